// vkinfer: run large language models on any Vulkan GPU.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tools/commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"vkinfer: LLM inference on any Vulkan GPU (NVIDIA, AMD, Intel, lavapipe)", "vkinfer"};
    app.require_subcommand(1);
    app.set_version_flag("--version", VKINFER_VERSION);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "log what vkinfer does (same as VKINFER_LOG=debug)");
    app.footer(
        "Environment: VKINFER_LOG=debug|info|warn|error, VKINFER_VALIDATION=1 (Khronos validation layer),\n"
        "VKINFER_CACHE_DIR (pipeline cache; default $XDG_CACHE_HOME/vkinfer), VKINFER_GPU_TIMEOUT_MS.");

    const vki::tools::Subcommand commands[] = {
        vki::tools::addDevicesCommand(app),    vki::tools::addProbeCommand(app),
        vki::tools::addInspectCommand(app),    vki::tools::addQuantizeCommand(app),
        vki::tools::addTokenizeCommand(app),   vki::tools::addMakeModelCommand(app),
        vki::tools::addConvertCommand(app),    vki::tools::addTemplateCommand(app),
        vki::tools::addRunCommand(app),        vki::tools::addChatCommand(app),
        vki::tools::addPerplexityCommand(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (verbose) vki::logger().set_level(spdlog::level::debug);

    try {
        for (const auto& command : commands)
            if (command.app->parsed()) return command.run();
    } catch (const vki::Error& e) {
        std::fprintf(stderr, "vkinfer: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vkinfer: internal error: %s\n", e.what());
        return 3;
    }
    return 0;
}
