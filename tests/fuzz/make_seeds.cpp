// Writes the seed corpus of the fuzz targets: small valid GGUF files made by our
// writer (a model description with tensors of every block type, and a vocab-only
// file), so fuzzing starts from deep inside the format.
//   vkinfer_fuzz_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "model/arch.hpp"
#include "model/gguf.hpp"

int main(int argc, char** argv) {
    using namespace vki::model;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);

    ModelConfig config;
    config.arch = Arch::kQwen2;
    config.n_vocab = 4;
    config.n_ctx = 16;
    config.n_embd = 32;
    config.n_layer = 1;
    config.n_head = 2;
    config.n_head_kv = 1;
    config.n_ff = 32;
    config.head_dim = 16;
    GgufWriter model;
    writeConfig(model, config);
    model.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
    model.set("tokenizer.ggml.tokens", GgufValue::stringArray({"a", "b", "ab", "<s>"}));
    const int32_t types[] = {1, 1, 1, 3};
    model.set("tokenizer.ggml.token_type", GgufValue::i32Array(types));
    model.set("tokenizer.ggml.merges", GgufValue::stringArray({"a b"}));
    for (const auto& spec : tensorSpecs(config)) {
        const auto type = spec.is_norm_or_bias ? vki::quant::DType::kF32 : vki::quant::DType::kQ8_0;
        uint64_t elements = 1;
        for (uint64_t d : spec.shape) elements *= d;
        std::vector<std::byte> data(vki::quant::byteSize(type, elements), std::byte{1});
        model.addTensor(spec.name, spec.shape, type, data);
    }
    model.write(dir / "model.gguf");

    GgufWriter vocab;
    vocab.set("general.architecture", GgufValue::string("llama"));
    vocab.set("tokenizer.ggml.model", GgufValue::string("llama"));
    vocab.set("tokenizer.ggml.tokens", GgufValue::stringArray({"<unk>", "<s>", "</s>", "\xe2\x96\x81hi"}));
    const float scores[] = {0, 0, 0, -1};
    vocab.set("tokenizer.ggml.scores", GgufValue::f32Array(scores));
    vocab.write(dir / "vocab.gguf");

    for (auto type : vki::quant::kAllDTypes) {
        GgufWriter one;
        const uint64_t n = vki::quant::traits(type).block_elements * 2;
        std::vector<std::byte> data(vki::quant::byteSize(type, n), std::byte{0x3c});
        one.addTensor("t", {n}, type, data);
        one.write(dir / (std::string("tensor_") + vki::quant::traits(type).name + ".gguf"));
    }
    return 0;
}
