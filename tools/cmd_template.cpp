// `vkinfer template -m model.gguf --user "..." [--system "..."]`: the prompt a model's
// chat template makes of a conversation, exactly as generation will see it.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/chat/chat_template.hpp"
#include "model/vocab_io.hpp"
#include "tools/commands.hpp"

namespace vki::tools {

Subcommand addTemplateCommand(CLI::App& app) {
    struct Options {
        std::string model, system, user, messages;
        bool no_generation_prompt = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("template", "render a conversation with the model's chat template");
    sub->add_option("-m,--model", opts->model, "GGUF model, or a tokenizer folder with tokenizer_config.json")
        ->required();
    sub->add_option("--system", opts->system, "system message");
    sub->add_option("--user", opts->user, "user message");
    sub->add_option("--messages", opts->messages,
                    "JSON file: [{\"role\": \"user\", \"content\": \"...\"}, ...] (instead of --system/--user)");
    sub->add_flag("--no-generation-prompt", opts->no_generation_prompt, "do not open an assistant turn");
    return {sub, [opts] {
                const model::Vocab vocab = model::loadVocab(opts->model);
                if (vocab.chat_template.empty())
                    throw Error(ErrorCode::kBadFile, opts->model + " has no chat template (tokenizer.chat_template)");
                std::vector<model::ChatMessage> messages;
                if (!opts->messages.empty()) {
                    std::ifstream in(opts->messages);
                    if (!in) throw Error(ErrorCode::kIo, "cannot read " + opts->messages);
                    nlohmann::json list;
                    try {
                        list = nlohmann::json::parse(in);
                    } catch (const nlohmann::json::exception& e) {
                        throw Error(ErrorCode::kBadFile, opts->messages + " is not valid JSON: " + e.what());
                    }
                    if (!list.is_array()) throw Error(ErrorCode::kBadFile, opts->messages + " must hold a JSON array");
                    for (const auto& m : list) {
                        if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
                            !m["content"].is_string())
                            throw Error(ErrorCode::kBadFile,
                                        opts->messages + ": every message needs string \"role\" and \"content\"");
                        messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
                    }
                } else {
                    if (!opts->system.empty()) messages.push_back({"system", opts->system});
                    if (!opts->user.empty()) messages.push_back({"user", opts->user});
                }
                if (messages.empty()) throw Error(ErrorCode::kInvalidArgument, "give --user, --system or --messages");
                model::ChatTemplateOptions options;
                options.add_generation_prompt = !opts->no_generation_prompt;
                auto token = [&](int32_t id) {
                    return id >= 0 ? vocab.tokens[static_cast<size_t>(id)] : std::string();
                };
                options.bos_token = token(vocab.bos_id);
                options.eos_token = token(vocab.eos_id);
                const std::string prompt = model::ChatTemplate(vocab.chat_template).render(messages, options);
                std::fwrite(prompt.data(), 1, prompt.size(), stdout);
                return 0;
            }};
}

}  // namespace vki::tools
