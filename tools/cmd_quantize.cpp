// `vkinfer quantize in.gguf out.gguf --type q4_k_m`: re-encodes a model's matrices.
#include <cstdio>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "model/quantize.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"

namespace vki::tools {

Subcommand addQuantizeCommand(CLI::App& app) {
    struct Options {
        std::string in, out, type;
        bool allow_requantize = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("quantize", "quantize a GGUF model (f16/bf16/f32 in, block formats out)");
    sub->add_option("input", opts->in, "GGUF model to read")->required();
    sub->add_option("output", opts->out, "GGUF file to write")->required();
    std::string names;
    for (const auto& n : model::recipeNames()) names += (names.empty() ? "" : ", ") + n;
    sub->add_option("-t,--type", opts->type, "target type: " + names + " (_m: more bits for output, attn_v, ffn_down)")
        ->required();
    sub->add_flag("--allow-requantize", opts->allow_requantize,
                  "re-encode tensors that are already block-quantized (compounds the error)");
    return {sub, [opts] {
                const model::QuantRecipe recipe = model::recipeFromName(opts->type);
                const auto in = model::GgufFile::open(opts->in);
                model::QuantizeReport report;
                {
                    ProgressBar bar("quantize");
                    report = model::quantizeModel(in, opts->out, recipe, opts->allow_requantize,
                                                  [&](size_t done, size_t total, const std::string& tensor) {
                                                      bar.update(total ? double(done) / double(total) : 1.0, tensor);
                                                  });
                }
                std::printf("%s -> %s (%s)\n", opts->in.c_str(), opts->out.c_str(), recipe.name.c_str());
                std::printf("  size     %s -> %s (%.2fx smaller)\n", formatBytes(report.bytes_in).c_str(),
                            formatBytes(report.bytes_out).c_str(),
                            double(report.bytes_in) / double(std::max<uint64_t>(report.bytes_out, 1)));
                std::printf("  tensors ");
                for (const auto& [type, count] : report.tensors_by_type) std::printf(" %s:%u", type.c_str(), count);
                std::printf("\n");
                for (const auto& [type, error] : report.error_by_type)
                    std::printf("  %-6s   relative RMS error %.4f over %llu values\n", type.c_str(),
                                error.relativeRmse(), static_cast<unsigned long long>(error.elements));
                return 0;
            }};
}

}  // namespace vki::tools
