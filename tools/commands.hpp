// Subcommands of the `vkinfer` CLI. Each registers itself and its options on the
// app and returns the parsed subcommand with the function that runs it.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace vki::tools {

struct Subcommand {
    CLI::App* app;
    std::function<int()> run;  // returns the exit code
};

Subcommand addDevicesCommand(CLI::App& app);
Subcommand addProbeCommand(CLI::App& app);
Subcommand addInspectCommand(CLI::App& app);
Subcommand addQuantizeCommand(CLI::App& app);
Subcommand addTokenizeCommand(CLI::App& app);
Subcommand addMakeModelCommand(CLI::App& app);
Subcommand addConvertCommand(CLI::App& app);
Subcommand addTemplateCommand(CLI::App& app);
Subcommand addRunCommand(CLI::App& app);
Subcommand addChatCommand(CLI::App& app);
Subcommand addPerplexityCommand(CLI::App& app);

}  // namespace vki::tools
