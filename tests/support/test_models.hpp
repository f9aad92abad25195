// Random-weight test models of both architectures in every weight format, made with
// make-model on first use and kept in the build tree's test cache.
#pragma once

#include <filesystem>
#include <string>

#include <unistd.h>

#include "model/make_model.hpp"
#include "model/vocab_io.hpp"

namespace vki::test {

// Small enough for lavapipe and the CPU reference, large enough that K-quant rows
// (256-element blocks) and grouped-query attention (8 heads over 2 kv heads) are real.
inline model::ModelConfig testConfig(model::Arch arch) {
    model::ModelConfig c;
    c.arch = arch;
    c.name = std::string("vkinfer-test-") + model::archName(arch);
    c.n_ctx = 512;
    c.n_embd = 256;
    c.n_layer = 2;
    c.n_head = 8;
    c.n_head_kv = 2;
    c.head_dim = 32;
    c.n_ff = 512;
    c.rms_eps = 1e-5f;
    c.rope_theta = arch == model::Arch::kQwen2 ? 1000000.0f : 10000.0f;
    c.tied_embeddings = arch == model::Arch::kQwen2;
    return c;
}

// recipe: "f16", "q8_0", "q4_0", "q4_k_m", ...; sliding_window: the config's window (0:
// none). Thread- and process-safe (atomic write).
inline std::filesystem::path testModel(model::Arch arch, const std::string& recipe, uint64_t seed = 1,
                                       uint32_t sliding_window = 0) {
    const std::filesystem::path dir = std::filesystem::path(VKI_TEST_CACHE_DIR) / "models";
    const std::filesystem::path path =
        dir / (std::string(model::archName(arch)) + "-" + recipe + "-" + std::to_string(seed) +
               (sliding_window ? "-w" + std::to_string(sliding_window) : "") + ".gguf");
    if (std::filesystem::exists(path)) return path;
    std::filesystem::create_directories(dir);
    const model::Vocab vocab = model::loadVocab(std::filesystem::path(VKI_TESTDATA_DIR) / "llama2-tokenizer.model");
    // Test processes run in parallel: each writes its own file, the last rename wins.
    const std::filesystem::path mine = path.string() + "." + std::to_string(getpid());
    model::ModelConfig config = testConfig(arch);
    config.sliding_window = sliding_window;
    model::makeModel({.config = config, .recipe = model::recipeFromName(recipe), .seed = seed}, vocab, mine);
    std::filesystem::rename(mine, path);
    return path;
}

}  // namespace vki::test
