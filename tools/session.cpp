#include "tools/session.hpp"

#include <chrono>
#include <cstdio>

#include "model/vocab_io.hpp"
#include "tools/progress.hpp"

namespace vki::tools {

void addModelOptions(CLI::App* app, ModelOptions& o) {
    app->add_option("-m,--model", o.model, "GGUF model file")->required()->check(CLI::ExistingFile);
    app->add_option("--device", o.device, "Vulkan device: auto, an index or a name substring (see `vkinfer devices`)")
        ->capture_default_str();
    app->add_option("-c,--ctx", o.ctx, "context length in tokens (default: the model's, at most 4096)");
    app->add_flag("--int8-activations", o.int8_activations,
                  "prompt matmuls of Q4_0/Q8_0 weights quantize activations to int8 (integer dot products; "
                  "`perplexity --kl-divergence` shows what it costs)");
    addKvTypeOption(app, o.kv_type);
}

void addKvTypeOption(CLI::App* app, quant::DType& kv_type) {
    app->add_option_function<std::string>(
           "--kv-type", [&kv_type](const std::string& name) { kv_type = *quant::dtypeFromName(name); },
           "KV cache element type: f16, or q8_0 (about half the memory, so twice the tokens in a budget; needs a "
           "head size that is a multiple of 32)")
        ->check(CLI::IsMember({"f16", "q8_0"}, CLI::ignore_case))
        ->option_text("f16|q8_0 (default f16)");
}

void addSamplingOptions(CLI::App* app, SamplingParams& p) {
    app->add_option("--temp", p.temperature, "temperature; 0 = greedy")->capture_default_str();
    app->add_option("--top-k", p.top_k, "keep the k most likely tokens; 0 = off")->capture_default_str();
    app->add_option("--top-p", p.top_p, "keep the smallest set with this probability mass; 1 = off")
        ->capture_default_str();
    app->add_option("--min-p", p.min_p, "drop tokens below this fraction of the top probability; 0 = off")
        ->capture_default_str();
    app->add_option("--repeat-penalty", p.repeat_penalty, "penalize repeated tokens (llama.cpp); 1 = off")
        ->capture_default_str();
    app->add_option("--presence-penalty", p.presence_penalty, "OpenAI presence penalty; 0 = off")
        ->capture_default_str();
    app->add_option("--frequency-penalty", p.frequency_penalty, "OpenAI frequency penalty; 0 = off")
        ->capture_default_str();
    app->add_option("--repeat-last-n", p.penalty_last_n, "tokens the penalties look back over")->capture_default_str();
    app->add_option("--seed", p.seed, "random seed (same seed, same text)")->capture_default_str();
}

std::unique_ptr<Session> openSession(const ModelOptions& o) {
    const auto start = std::chrono::steady_clock::now();
    auto s = std::make_unique<Session>();
    s->instance = std::make_unique<vk::Instance>();
    s->device = std::make_unique<vk::Device>(*s->instance, o.device);
    s->file = std::make_unique<model::GgufFile>(model::GgufFile::open(o.model));
    s->tokenizer = std::make_unique<model::Tokenizer>(model::readVocab(*s->file));
    {
        ProgressBar bar("loading " + std::filesystem::path(o.model).filename().string());
        s->executor = std::make_unique<Executor>(
            *s->device, *s->file,
            ExecutorOptions{.n_ctx = o.ctx, .kv_type = o.kv_type, .int8_activations = o.int8_activations},
            [&](uint64_t done, uint64_t total) { bar.update(total ? double(done) / double(total) : 1.0, "weights"); });
        bar.finish();
    }
    s->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& g = s->executor->graph();
    std::fprintf(stderr, "%s (%s, %u layers, %.0f MiB of weights) on %s, context %u, KV cache %s, loaded in %.2f s\n",
                 g.config.name.empty() ? o.model.c_str() : g.config.name.c_str(), model::archName(g.config.arch),
                 g.config.n_layer, s->executor->weightBytes() / 1048576.0, s->device->caps().name.c_str(),
                 s->executor->contextLength(), quant::traits(o.kv_type).name, s->load_seconds);
    return s;
}

}  // namespace vki::tools
