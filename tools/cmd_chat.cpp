// `vkinfer chat -m model.gguf`: an interactive conversation using the model's chat
// template. Each turn renders the whole conversation; the prefix already in the KV
// cache is not computed again.
#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "model/chat/chat_template.hpp"
#include "runtime/generate.hpp"
#include "tools/commands.hpp"
#include "tools/session.hpp"

namespace vki::tools {

Subcommand addChatCommand(CLI::App& app) {
    struct Options {
        ModelOptions model;
        std::string system, template_file;
        GenerateOptions gen;
    };
    auto o = std::make_shared<Options>();
    o->gen.max_tokens = 512;
    auto* sub = app.add_subcommand("chat", "talk with a model (reads your turns from standard input)");
    addModelOptions(sub, o->model);
    sub->add_option("-s,--system", o->system, "system message");
    sub->add_option("--template", o->template_file, "Jinja chat template file (default: the model's own)");
    sub->add_option("-n,--n-predict", o->gen.max_tokens, "tokens per reply at most")->capture_default_str();
    addSamplingOptions(sub, o->gen.sampling);
    sub->footer("Type a message and press Enter; /reset starts over, /exit or end of input quits.");
    return {sub, [o] {
                auto session = openSession(o->model);
                const model::Vocab& vocab = session->tokenizer->vocab();
                std::string source = vocab.chat_template;
                if (!o->template_file.empty()) {
                    std::ifstream in(o->template_file);
                    if (!in) throw Error(ErrorCode::kIo, "cannot read " + o->template_file);
                    source.assign(std::istreambuf_iterator<char>(in), {});
                }
                if (source.empty()) {
                    throw Error(ErrorCode::kUnsupported,
                                "the model has no chat template (tokenizer.chat_template): pass one with --template "
                                "FILE, or use `vkinfer run` for plain completion");
                }
                const model::ChatTemplate chat_template(source);
                model::ChatTemplateOptions options;
                auto token = [&](int32_t id) {
                    return id >= 0 ? vocab.tokens[static_cast<size_t>(id)] : std::string();
                };
                options.bos_token = token(vocab.bos_id);
                options.eos_token = token(vocab.eos_id);

                Generator generator(*session->executor, *session->tokenizer);
                std::vector<model::ChatMessage> messages;
                if (!o->system.empty()) messages.push_back({"system", o->system});
                const bool interactive = isatty(fileno(stdin));
                std::string line;
                while (true) {
                    if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
                    if (!std::getline(std::cin, line) || line == "/exit") break;
                    if (line == "/reset") {
                        messages.resize(o->system.empty() ? 0 : 1);
                        generator.reset();
                        continue;
                    }
                    if (line.empty()) continue;
                    messages.push_back({"user", line});
                    const std::string text = chat_template.render(messages, options);
                    // The template writes BOS itself where the model wants it.
                    std::vector<uint32_t> ids;
                    for (int32_t id : session->tokenizer->encode(text, false, true))
                        ids.push_back(static_cast<uint32_t>(id));
                    if (vocab.add_bos && vocab.bos_id >= 0 && (ids.empty() || ids[0] != uint32_t(vocab.bos_id)) &&
                        text.rfind(options.bos_token, 0) != 0) {
                        ids.insert(ids.begin(), static_cast<uint32_t>(vocab.bos_id));
                    }
                    GenerateResult r;
                    try {
                        r = generator.generate(ids, o->gen, [](std::string_view piece) {
                            std::fwrite(piece.data(), 1, piece.size(), stdout);
                            std::fflush(stdout);
                        });
                    } catch (const Error& e) {
                        if (e.code() != ErrorCode::kInvalidArgument) throw;
                        std::fprintf(stderr, "\n%s; /reset to start over\n", e.what());
                        messages.pop_back();
                        continue;
                    }
                    std::fputs("\n", stdout);
                    std::fflush(stdout);
                    messages.push_back({"assistant", r.text});
                    std::fprintf(stderr, "[%u new prompt tokens (%u cached), %zu generated, %.1f tok/s]\n",
                                 r.prompt_tokens, r.cached_tokens, r.tokens.size(),
                                 r.generate_seconds > 0 ? r.decode_steps / r.generate_seconds : 0.0);
                }
                return 0;
            }};
}

}  // namespace vki::tools
