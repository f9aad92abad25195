#include "runtime/ops/weights.hpp"

#include <string>

#include "common/error.hpp"
#include "runtime/ops/matvec.hpp"

namespace vki::ops {

namespace {

using shaders::ShaderId;

constexpr WeightKernels kWeightKernels[] = {
    {quant::DType::kF32, ShaderId::matvec_f32_f32_f32, ShaderId::matvec_f32_f32_f32_glu, ShaderId::matmul_f32_f32_f32,
     ShaderId::matmul_f32_f32_f32_glu, ShaderId::matmul_f32_f32_f32_coopmat, ShaderId::matmul_f32_f32_f32_glu_coopmat,
     ShaderId::embed_f32_f32},
    {quant::DType::kF16, ShaderId::matvec_f16_f32_f32, ShaderId::matvec_f16_f32_f32_glu, ShaderId::matmul_f16_f32_f32,
     ShaderId::matmul_f16_f32_f32_glu, ShaderId::matmul_f16_f32_f32_coopmat, ShaderId::matmul_f16_f32_f32_glu_coopmat,
     ShaderId::embed_f16_f32},
    {quant::DType::kBF16, ShaderId::matvec_bf16_f32_f32, ShaderId::matvec_bf16_f32_f32_glu,
     ShaderId::matmul_bf16_f32_f32, ShaderId::matmul_bf16_f32_f32_glu, ShaderId::matmul_bf16_f32_f32_coopmat,
     ShaderId::matmul_bf16_f32_f32_glu_coopmat, ShaderId::embed_bf16_f32},
    {quant::DType::kQ4_0, ShaderId::matvec_q4_0_f32_f32, ShaderId::matvec_q4_0_f32_f32_glu,
     ShaderId::matmul_q4_0_f32_f32, ShaderId::matmul_q4_0_f32_f32_glu, ShaderId::matmul_q4_0_f32_f32_coopmat,
     ShaderId::matmul_q4_0_f32_f32_glu_coopmat, ShaderId::embed_q4_0_f32},
    {quant::DType::kQ4_1, ShaderId::matvec_q4_1_f32_f32, ShaderId::matvec_q4_1_f32_f32_glu,
     ShaderId::matmul_q4_1_f32_f32, ShaderId::matmul_q4_1_f32_f32_glu, ShaderId::matmul_q4_1_f32_f32_coopmat,
     ShaderId::matmul_q4_1_f32_f32_glu_coopmat, ShaderId::embed_q4_1_f32},
    {quant::DType::kQ5_0, ShaderId::matvec_q5_0_f32_f32, ShaderId::matvec_q5_0_f32_f32_glu,
     ShaderId::matmul_q5_0_f32_f32, ShaderId::matmul_q5_0_f32_f32_glu, ShaderId::matmul_q5_0_f32_f32_coopmat,
     ShaderId::matmul_q5_0_f32_f32_glu_coopmat, ShaderId::embed_q5_0_f32},
    {quant::DType::kQ5_1, ShaderId::matvec_q5_1_f32_f32, ShaderId::matvec_q5_1_f32_f32_glu,
     ShaderId::matmul_q5_1_f32_f32, ShaderId::matmul_q5_1_f32_f32_glu, ShaderId::matmul_q5_1_f32_f32_coopmat,
     ShaderId::matmul_q5_1_f32_f32_glu_coopmat, ShaderId::embed_q5_1_f32},
    {quant::DType::kQ8_0, ShaderId::matvec_q8_0_f32_f32, ShaderId::matvec_q8_0_f32_f32_glu,
     ShaderId::matmul_q8_0_f32_f32, ShaderId::matmul_q8_0_f32_f32_glu, ShaderId::matmul_q8_0_f32_f32_coopmat,
     ShaderId::matmul_q8_0_f32_f32_glu_coopmat, ShaderId::embed_q8_0_f32},
    {quant::DType::kQ4_K, ShaderId::matvec_q4_K_f32_f32, ShaderId::matvec_q4_K_f32_f32_glu,
     ShaderId::matmul_q4_K_f32_f32, ShaderId::matmul_q4_K_f32_f32_glu, ShaderId::matmul_q4_K_f32_f32_coopmat,
     ShaderId::matmul_q4_K_f32_f32_glu_coopmat, ShaderId::embed_q4_K_f32},
    {quant::DType::kQ5_K, ShaderId::matvec_q5_K_f32_f32, ShaderId::matvec_q5_K_f32_f32_glu,
     ShaderId::matmul_q5_K_f32_f32, ShaderId::matmul_q5_K_f32_f32_glu, ShaderId::matmul_q5_K_f32_f32_coopmat,
     ShaderId::matmul_q5_K_f32_f32_glu_coopmat, ShaderId::embed_q5_K_f32},
    {quant::DType::kQ6_K, ShaderId::matvec_q6_K_f32_f32, ShaderId::matvec_q6_K_f32_f32_glu,
     ShaderId::matmul_q6_K_f32_f32, ShaderId::matmul_q6_K_f32_f32_glu, ShaderId::matmul_q6_K_f32_f32_coopmat,
     ShaderId::matmul_q6_K_f32_f32_glu_coopmat, ShaderId::embed_q6_K_f32},
};

}  // namespace

const WeightKernels* findKernels(quant::DType dtype) {
    for (const auto& k : kWeightKernels)
        if (k.dtype == dtype) return &k;
    return nullptr;
}

// The weight reads of every type but f32 are 16-bit loads (dequant.glsl).
void checkWeightSupport(const vk::DeviceCaps& caps, quant::DType dtype, const char* op) {
    const char* name = quant::traits(dtype).name;
    if (!findKernels(dtype))
        throw Error(ErrorCode::kUnsupported, std::string(op) + " has no kernel for " + name + " weights");
    if (dtype != quant::DType::kF32 && !caps.storage_buffer_16bit)
        throw Error(ErrorCode::kUnsupported, "device \"" + caps.name +
                                                 "\" lacks 16-bit storage buffer access "
                                                 "(storageBuffer16BitAccess), needed to read " +
                                                 name + " weights; convert the model to f32 to run on it");
}

uint32_t rowWords(quant::DType dtype, uint32_t k) {
    const uint64_t words = dtype == quant::DType::kF32 ? k : quant::byteSize(dtype, k) / 2;
    VKI_ASSERT_MSG(words <= UINT32_MAX, "row too long");
    return static_cast<uint32_t>(words);
}

void checkRowLength(quant::DType dtype, uint32_t k) {
    const uint32_t block = quant::traits(dtype).block_elements;
    VKI_ASSERT_MSG(k >= 1 && k % block == 0, std::string("row length must be a positive multiple of ") +
                                                 std::to_string(block) + " for " + quant::traits(dtype).name);
}

void checkProductArgs(const MatVecArgs& a, bool reads_x) {
    VKI_ASSERT(a.n >= 1 && a.rows >= 1);
    VKI_ASSERT(a.n == 1 || ((!reads_x || a.x_stride >= a.k) && a.y_stride >= a.row0 + a.rows));
    const uint64_t slab_bytes = quant::byteSize(a.dtype, a.k) * a.rows;
    VKI_ASSERT(a.w.size >= slab_bytes && (!present(a.up) || a.up.size >= slab_bytes));
    VKI_ASSERT_MSG(slab_bytes / 2 <= UINT32_MAX, "a weight slab must be indexable by 32 bits");
    const uint64_t y_floats = columnsSpan(a.n, a.y_stride, uint64_t{a.row0} + a.rows);
    VKI_ASSERT_MSG(y_floats <= UINT32_MAX, "outputs must be indexable by 32 bits");
    VKI_ASSERT(a.y.size >= y_floats * 4);
    if (reads_x) {
        const uint64_t x_floats = columnsSpan(a.n, a.x_stride, a.k);
        VKI_ASSERT_MSG(x_floats <= UINT32_MAX, "activations must be indexable by 32 bits");
        VKI_ASSERT(a.x.size >= x_floats * 4);
        VKI_ASSERT(!present(a.norm) || a.norm.size >= uint64_t{a.k} * 4);
    }
    VKI_ASSERT(!present(a.bias) || a.bias.size >= (uint64_t{a.row0} + a.rows) * 4);
}

TileGrid tileGrid(const vk::DeviceCaps& caps, const MatVecArgs& a, uint32_t tile_rows, uint32_t tile_cols) {
    const TileGrid g{(a.rows + tile_rows - 1) / tile_rows, (a.n + tile_cols - 1) / tile_cols};
    VKI_ASSERT_MSG(g.x <= caps.max_workgroup_count[0] && g.y <= caps.max_workgroup_count[1],
                   "a weight slab has more row or column tiles than one dispatch takes");
    return g;
}

}  // namespace vki::ops
