#include <gtest/gtest.h>

#include <iterator>
#include <vector>

#include "common/error.hpp"
#include "registry.hpp"
#include "runtime/vk/spirv_reflect.hpp"
#include "shaders/common/params.h"

namespace vki::vk {
namespace {

using shaders::ShaderId;

struct Expected {
    ShaderId id;
    uint32_t bindings;
    uint32_t push_size;  // the C++ struct the host pushes
};

// The shared params.h structs must have exactly the size the shaders declare.
const Expected kExpected[] = {
    {ShaderId::copy_f32, 2, sizeof(shader::CopyParams)},
    {ShaderId::copy_vec4, 2, sizeof(shader::CopyParams)},
    {ShaderId::add_f32, 3, sizeof(shader::BinaryParams)},
    {ShaderId::mul_f32, 3, sizeof(shader::BinaryParams)},
    {ShaderId::sum_f32, 2, sizeof(shader::ReduceParams)},
    {ShaderId::max_f32, 2, sizeof(shader::ReduceParams)},
    {ShaderId::peak_f32, 1, sizeof(shader::PeakParams)},
    {ShaderId::peak_f16, 1, sizeof(shader::PeakParams)},
    {ShaderId::peak_coopmat, 1, sizeof(shader::PeakParams)},
    {ShaderId::rope_kv_f16, 9, sizeof(shader::RopeKvParams)},
    {ShaderId::rope_kv_q8_0, 9, sizeof(shader::RopeKvParams)},
    {ShaderId::attention_split_f16, 6, sizeof(shader::AttentionParams)},
    {ShaderId::attention_split_q8_0, 6, sizeof(shader::AttentionParams)},
    {ShaderId::rope_shift_f16, 3, sizeof(shader::RopeShiftParams)},
    {ShaderId::rope_shift_q8_0, 3, sizeof(shader::RopeShiftParams)},
    {ShaderId::attention_reduce, 2, sizeof(shader::AttentionParams)},
    {ShaderId::flash_attention_f16, 6, sizeof(shader::FlashAttentionParams)},
    {ShaderId::flash_attention_q8_0, 6, sizeof(shader::FlashAttentionParams)},
    {ShaderId::argmax, 2, sizeof(shader::ArgMaxParams)},
    {ShaderId::rms_norm, 3, sizeof(shader::RmsNormParams)},
};
// The fused-dequant kernels (runtime/ops/matvec.cpp): matvec, matvec with SwiGLU, embed.
const Expected kMatVecExpected[] = {
    {ShaderId::matvec_f32_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_f32_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_f16_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_f16_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_bf16_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_bf16_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_0_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_0_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_1_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_1_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_0_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_0_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_1_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_1_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q8_0_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q8_0_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_K_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q4_K_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_K_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q5_K_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q6_K_f32_f32, 5, sizeof(shader::MatVecParams)},
    {ShaderId::matvec_q6_K_f32_f32_glu, 6, sizeof(shader::MatVecParams)},
    {ShaderId::embed_f32_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_f16_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_bf16_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q4_0_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q4_1_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q5_0_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q5_1_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q8_0_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q4_K_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q5_K_f32, 3, sizeof(shader::EmbedParams)},
    {ShaderId::embed_q6_K_f32, 3, sizeof(shader::EmbedParams)},
};
// The prefill kernels (runtime/ops/matmul.cpp): matmul and matmul with SwiGLU.
const Expected kMatMulExpected[] = {
    {ShaderId::matmul_f32_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f32_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f16_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f16_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_bf16_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_bf16_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_0_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_0_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_1_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_1_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_0_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_0_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_1_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_1_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q8_0_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q8_0_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_K_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_K_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_K_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_K_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q6_K_f32_f32, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q6_K_f32_f32_glu, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f32_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f32_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f16_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_f16_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_bf16_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_bf16_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_0_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_0_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_1_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_1_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_0_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_0_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_1_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_1_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q8_0_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q8_0_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_K_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q4_K_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_K_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q5_K_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q6_K_f32_f32_coopmat, 4, sizeof(shader::MatMulParams)},
    {ShaderId::matmul_q6_K_f32_f32_glu_coopmat, 5, sizeof(shader::MatMulParams)},
};
// The integer dot-product path (runtime/ops/matmul_int8.cpp): quantize, matmul (+ SwiGLU).
const Expected kInt8Expected[] = {
    {ShaderId::quantize_q8_1, 2, sizeof(shader::QuantizeQ8_1Params)},
    {ShaderId::matmul_q4_0_q8_1_f32, 4, sizeof(shader::MatMulQ8_1Params)},
    {ShaderId::matmul_q4_0_q8_1_f32_glu, 5, sizeof(shader::MatMulQ8_1Params)},
    {ShaderId::matmul_q8_0_q8_1_f32, 4, sizeof(shader::MatMulQ8_1Params)},
    {ShaderId::matmul_q8_0_q8_1_f32_glu, 5, sizeof(shader::MatMulQ8_1Params)},
};
static_assert(std::size(kExpected) + std::size(kMatVecExpected) + std::size(kMatMulExpected) +
                      std::size(kInt8Expected) ==
                  shaders::kShaderCount,
              "every shader variant is checked");

TEST(SpirvReflect, EveryEmbeddedShaderMatchesItsHostStruct) {
    std::vector<Expected> all(std::begin(kExpected), std::end(kExpected));
    all.insert(all.end(), std::begin(kMatVecExpected), std::end(kMatVecExpected));
    all.insert(all.end(), std::begin(kMatMulExpected), std::end(kMatMulExpected));
    all.insert(all.end(), std::begin(kInt8Expected), std::end(kInt8Expected));
    for (const auto& e : all) {
        const auto& blob = shaders::blob(e.id);
        SCOPED_TRACE(blob.name);
        const SpirvInfo info = reflectSpirv(blob.words);
        ASSERT_EQ(info.storage_bindings.size(), e.bindings);
        for (uint32_t i = 0; i < e.bindings; ++i) EXPECT_EQ(info.storage_bindings[i], i);
        EXPECT_EQ(info.push_constant_size, e.push_size);
        EXPECT_EQ(info.local_size_spec_ids[0], 0u) << "local size x is specialization constant 0";
        ASSERT_FALSE(info.spec_constants.empty());
        EXPECT_EQ(info.spec_constants[0].id, 0u);
    }
}

TEST(SpirvReflect, RejectsGarbage) {
    const uint32_t not_spirv[] = {1, 2, 3, 4, 5, 6};
    EXPECT_THROW(reflectSpirv(not_spirv), Error);
    const auto& blob = shaders::blob(ShaderId::copy_f32);
    std::vector<uint32_t> truncated(blob.words.begin(), blob.words.end());
    truncated.push_back(0xFFFF0000u | 71);  // a last instruction claiming 65535 words
    EXPECT_THROW(reflectSpirv(truncated), Error);
}

}  // namespace
}  // namespace vki::vk
