// `vkinfer convert <hf folder> -o model.gguf [--outtype f16] [--vocab-only]`.
#include <cstdio>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "model/convert.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"

namespace vki::tools {

Subcommand addConvertCommand(CLI::App& app) {
    struct Options {
        std::string folder, out, type = "f16";
        bool vocab_only = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("convert", "convert a Hugging Face Llama/Qwen2 checkpoint folder to GGUF");
    sub->add_option("folder", opts->folder, "folder with config.json, *.safetensors, tokenizer files")->required();
    sub->add_option("-o,--output", opts->out, "GGUF file to write")->required();
    sub->add_option("--outtype", opts->type, "f32, f16 or bf16")->capture_default_str();
    sub->add_flag("--vocab-only", opts->vocab_only, "write only the tokenizer (no tensors)");
    return {sub, [opts] {
                model::ConvertOptions options;
                const auto type = quant::dtypeFromName(opts->type);
                if (!type) throw Error(ErrorCode::kInvalidArgument, "--outtype must be f32, f16 or bf16");
                options.out_type = *type;
                options.vocab_only = opts->vocab_only;
                model::ConvertReport report;
                {
                    ProgressBar bar("convert");
                    report = model::convertHfFolder(opts->folder, opts->out, options, [&](size_t done, size_t total) {
                        bar.update(total ? double(done) / double(total) : 1.0, "converting tensors");
                    });
                }
                std::printf("wrote %s: %s, %zu tensors, %.3g B parameters, vocab %zu\n", opts->out.c_str(),
                            report.arch.c_str(), report.tensors, double(report.parameters) / 1e9, report.vocab);
                return 0;
            }};
}

}  // namespace vki::tools
