// `vkinfer tokenize -m model.gguf [--ids] [--json] "text" | -`: the ids a model's
// tokenizer gives, with their pieces.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.hpp"
#include "model/vocab_io.hpp"
#include "tools/commands.hpp"

namespace vki::tools {

Subcommand addTokenizeCommand(CLI::App& app) {
    struct Options {
        std::string model, text;
        bool ids_only = false, json = false, no_bos = false, no_special = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("tokenize", "show how a model's tokenizer splits text");
    sub->add_option("-m,--model", opts->model, "GGUF model, or tokenizer.json / tokenizer.model / folder")->required();
    sub->add_option("text", opts->text, "text to tokenize; - reads standard input")->required();
    sub->add_flag("--ids", opts->ids_only, "print only the ids");
    sub->add_flag("--json", opts->json, "print JSON: ids and pieces");
    sub->add_flag("--no-bos", opts->no_bos, "do not add BOS/EOS even where the model does");
    sub->add_flag("--no-parse-special", opts->no_special, "treat special-token text (<s>, <|eot_id|>) as plain text");
    return {sub, [opts] {
                std::string text = opts->text;
                if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
                const model::Tokenizer tokenizer(model::loadVocab(opts->model));
                const auto ids = tokenizer.encode(text, !opts->no_bos, !opts->no_special);
                // Pieces may hold partial UTF-8 (byte tokens): shown with U+FFFD.
                auto quoted = [](std::string_view piece) {
                    return nlohmann::json(std::string(piece))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                };
                if (opts->json) {
                    nlohmann::json out = {{"ids", ids}, {"count", ids.size()}, {"pieces", nlohmann::json::array()}};
                    for (int32_t id : ids) out["pieces"].push_back(std::string(tokenizer.piece(id)));
                    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
                    return 0;
                }
                if (opts->ids_only) {
                    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
                    std::printf("\n");
                    return 0;
                }
                for (int32_t id : ids) std::printf("%8d  %s\n", id, quoted(tokenizer.piece(id)).c_str());
                std::printf("%zu tokens\n", ids.size());
                return 0;
            }};
}

}  // namespace vki::tools
