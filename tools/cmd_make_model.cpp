// `vkinfer make-model`: a random-weight GGUF of a chosen architecture and shape with a
// real tokenizer, for tests and benchmarks without downloads.
#include <cstdio>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "model/make_model.hpp"
#include "model/vocab_io.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"

namespace vki::tools {

Subcommand addMakeModelCommand(CLI::App& app) {
    struct Options {
        std::string out, tokenizer, arch = "llama", type = "f16";
        model::ModelConfig config;
        uint64_t seed = 1;
        float rope_theta = 10000.0f;
    };
    auto opts = std::make_shared<Options>();
    auto& c = opts->config;
    c.n_embd = 256;
    c.n_layer = 4;
    c.n_head = 8;
    c.n_head_kv = 4;
    c.n_ff = 512;
    c.n_ctx = 2048;
    auto* sub = app.add_subcommand("make-model", "write a random-weight GGUF model with a real tokenizer");
    sub->add_option("-o,--output", opts->out, "GGUF file to write")->required();
    sub->add_option("--tokenizer", opts->tokenizer,
                    "tokenizer source: .gguf, tokenizer.json, tokenizer.model, or a folder with one")
        ->required();
    sub->add_option("--arch", opts->arch, "llama or qwen2")->capture_default_str();
    sub->add_option("--dim", c.n_embd, "embedding size")->capture_default_str();
    sub->add_option("--layers", c.n_layer, "transformer blocks")->capture_default_str();
    sub->add_option("--heads", c.n_head, "attention heads")->capture_default_str();
    sub->add_option("--kv-heads", c.n_head_kv, "key/value heads (grouped-query attention)")->capture_default_str();
    sub->add_option("--ffn", c.n_ff, "feed-forward size")->capture_default_str();
    sub->add_option("--context", c.n_ctx, "context length")->capture_default_str();
    sub->add_option("--vocab", c.n_vocab, "vocabulary size (default: the tokenizer's)");
    sub->add_option("--rope-theta", opts->rope_theta, "RoPE base")->capture_default_str();
    sub->add_option("--type", opts->type, "weight type: f32, f16, bf16, q8_0, q4_0, q4_k_m, q6_k, ...")
        ->capture_default_str();
    sub->add_option("--seed", opts->seed, "random seed")->capture_default_str();
    return {sub, [opts] {
                model::MakeModelOptions options;
                options.config = opts->config;
                options.config.arch = model::archFromName(opts->arch);
                options.config.rope_theta = opts->rope_theta;
                options.config.tied_embeddings = options.config.arch == model::Arch::kQwen2;
                options.recipe = model::recipeFromName(opts->type);
                options.seed = opts->seed;
                const model::Vocab vocab = model::loadVocab(opts->tokenizer);
                {
                    ProgressBar bar("make-model");
                    model::makeModel(options, vocab, opts->out, [&](size_t done, size_t total) {
                        bar.update(total ? double(done) / double(total) : 1.0, "writing tensors");
                    });
                }
                const auto& cfg = options.config;
                std::printf(
                    "wrote %s: %s, dim %u, %u layers, %u/%u heads, ffn %u, vocab %zu, context %u, %s, "
                    "seed %llu (random weights: the text it generates is meaningless; run a real GGUF "
                    "with -m path/to/model.gguf)\n",
                    opts->out.c_str(), opts->arch.c_str(), cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_head_kv, cfg.n_ff,
                    vocab.tokens.size(), cfg.n_ctx, options.recipe.name.c_str(),
                    static_cast<unsigned long long>(opts->seed));
                return 0;
            }};
}

}  // namespace vki::tools
