// Architecture table, config round trips and quantization recipes.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/quantize.hpp"

namespace vki::model {
namespace {

ModelConfig llama() {
    ModelConfig c;
    c.name = "tiny";
    c.n_vocab = 320;
    c.n_ctx = 256;
    c.n_embd = 64;
    c.n_layer = 3;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.n_ff = 96;
    c.head_dim = 16;
    c.rms_eps = 1e-6f;
    c.rope_theta = 500000.0f;
    return c;
}

ModelConfig roundTrip(const ModelConfig& c) {
    GgufWriter w;
    writeConfig(w, c);
    for (const auto& spec : tensorSpecs(c)) {
        uint64_t n = 1;
        for (uint64_t d : spec.shape) n *= d;
        w.addTensor(spec.name, spec.shape, quant::DType::kF32, std::vector<std::byte>(n * 4));
    }
    const auto bytes = w.writeToMemory();
    return readConfig(GgufFile::fromMemory(bytes));
}

TEST(Arch, ConfigRoundTrips) {
    ModelConfig c = llama();
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = 8.0f;
    c.rope_original_ctx = 8192;
    const ModelConfig r = roundTrip(c);
    EXPECT_EQ(r.arch, Arch::kLlama);
    EXPECT_EQ(r.name, "tiny");
    EXPECT_EQ(r.n_vocab, 320u);
    EXPECT_EQ(r.n_layer, 3u);
    EXPECT_EQ(r.n_head_kv, 2u);
    EXPECT_EQ(r.head_dim, 16u);
    EXPECT_FLOAT_EQ(r.rms_eps, 1e-6f);
    EXPECT_FLOAT_EQ(r.rope_theta, 500000.0f);
    EXPECT_EQ(r.rope_scaling, RopeScaling::kLlama3);
    EXPECT_FLOAT_EQ(r.rope_factor, 8.0f);
    EXPECT_FALSE(r.tied_embeddings);

    ModelConfig q = llama();
    q.arch = Arch::kQwen2;
    q.tied_embeddings = true;
    q.head_dim = 32;  // not n_embd / n_head: written as key_length
    const ModelConfig rq = roundTrip(q);
    EXPECT_EQ(rq.arch, Arch::kQwen2);
    EXPECT_TRUE(rq.tied_embeddings);
    EXPECT_EQ(rq.head_dim, 32u);
}

TEST(Arch, TensorSpecsFollowLlamaCppNames) {
    ModelConfig c = llama();
    const auto specs = tensorSpecs(c);
    EXPECT_EQ(specs.size(), 1 + 3 * 9 + 2u);
    EXPECT_EQ(specs.front().name, "token_embd.weight");
    EXPECT_EQ(specs.front().shape, (std::vector<uint64_t>{64, 320}));
    EXPECT_EQ(specs[2].name, "blk.0.attn_q.weight");
    EXPECT_EQ(specs[3].shape, (std::vector<uint64_t>{64, 32})) << "attn_k: kv heads x head size";
    c.arch = Arch::kQwen2;
    c.tied_embeddings = true;
    const auto qwen = tensorSpecs(c);
    EXPECT_EQ(qwen.size(), 1 + 3 * 12 + 1u) << "q/k/v biases, no output.weight";
}

TEST(Arch, Llama3RopeFactorsSpanOneToFactor) {
    ModelConfig c = llama();
    c.head_dim = 128;
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = 8.0f;
    c.rope_original_ctx = 8192;
    const auto f = llama3RopeFactors(c);
    ASSERT_EQ(f.size(), 64u);
    EXPECT_FLOAT_EQ(f.front(), 1.0f) << "high frequencies are not scaled";
    EXPECT_FLOAT_EQ(f.back(), 8.0f) << "low frequencies are scaled by the factor";
    for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
}

TEST(Arch, BadConfigsAreClearErrors) {
    ModelConfig c = llama();
    c.n_head_kv = 3;
    EXPECT_THROW(c.validate(), Error);
    c = llama();
    c.n_layer = 4000000000u;
    try {
        c.validate();
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("implausible"), std::string::npos) << e.what();
    }
    try {
        archFromName("mamba");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("llama, qwen2"), std::string::npos);
    }
}

TEST(Recipe, KMediumGivesMoreBitsWhereLlamaCppDoes) {
    const QuantRecipe r = recipeFromName("Q4_K_M");
    EXPECT_EQ(r.base, quant::DType::kQ4_K);
    EXPECT_TRUE(r.k_medium);
    const uint32_t n_layer = 16;
    EXPECT_EQ(recipeType(r, "output.weight", {256, 1000}, n_layer), quant::DType::kQ6_K);
    EXPECT_EQ(recipeType(r, "blk.0.attn_v.weight", {256, 256}, n_layer), quant::DType::kQ6_K);
    EXPECT_EQ(recipeType(r, "blk.3.attn_v.weight", {256, 256}, n_layer), quant::DType::kQ4_K);
    EXPECT_EQ(recipeType(r, "blk.4.ffn_down.weight", {256, 256}, n_layer), quant::DType::kQ6_K) << "(4 - 2) % 3 == 2";
    EXPECT_EQ(recipeType(r, "blk.15.ffn_down.weight", {256, 256}, n_layer), quant::DType::kQ6_K);
    EXPECT_EQ(recipeType(r, "blk.5.attn_q.weight", {256, 256}, n_layer), quant::DType::kQ4_K);
    EXPECT_EQ(recipeType(r, "blk.5.attn_norm.weight", {256}, n_layer), quant::DType::kF32);
    EXPECT_EQ(recipeType(r, "blk.5.attn_q.weight", {96, 256}, n_layer), quant::DType::kQ8_0) << "96 % 256 != 0";
    EXPECT_EQ(recipeType(r, "blk.5.attn_q.weight", {48, 256}, n_layer), quant::DType::kF16) << "48 % 32 != 0";
    EXPECT_EQ(recipeType(recipeFromName("q8_0"), "output.weight", {64, 8}, n_layer), quant::DType::kQ8_0);
    EXPECT_THROW(recipeFromName("q3_k_xl"), Error);
}

}  // namespace
}  // namespace vki::model
