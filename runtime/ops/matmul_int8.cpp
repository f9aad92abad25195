#include "runtime/ops/matmul_int8.hpp"

#include <algorithm>
#include <iterator>
#include <span>
#include <string>

#include "common/error.hpp"
#include "runtime/ops/weights.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

namespace {

using shaders::ShaderId;

// matmul_q8_1.comp's tile shapes, keyed by subgroup width: the first row whose
// min_subgroup the device's subgroups reach. A workgroup computes bm x bn outputs,
// tm x tn per invocation, staging bkb 32-element blocks of k per barrier pair.
// lavapipe (1024 x 1024, n = 512, a loaded 2-core host): 32 x 32 tiles of 4 x 4 with 4
// or 8 blocks per step and 64 x 64 tiles of 8 x 8 tie; 16 x 16 and 32 x 16 are 1.4-2x slower.
struct MatMulQ8_1Tuning {
    uint32_t min_subgroup;
    uint32_t bm, bn, tm, tn, bkb;
};
constexpr MatMulQ8_1Tuning kTuning[] = {
    {16, 64, 64, 4, 4, 2},  // GPUs: 256 invocations (not measured here)
    {1, 32, 32, 4, 4, 4},   // narrow SIMD (CPU implementations, 8-wide): 64 invocations
};

struct MatMulQ8_1Spec {
    uint32_t workgroup;
    uint32_t bm, bn, tm, tn, bkb;
};

uint64_t sharedBytes(const MatMulQ8_1Spec& s, bool glu) {
    const uint64_t nmat = glu ? 2 : 1;
    return 4 * (nmat * s.bkb * (8 * s.bm + s.bm) + s.bkb * (8 * s.bn + 2 * s.bn));
}

MatMulQ8_1Spec matMulSpec(const vk::DeviceCaps& caps, bool glu) {
    const MatMulQ8_1Tuning* row = &kTuning[std::size(kTuning) - 1];
    for (const auto& t : kTuning) {
        if (caps.subgroup_size >= t.min_subgroup) {
            row = &t;
            break;
        }
    }
    MatMulQ8_1Spec s{(row->bm / row->tm) * (row->bn / row->tn), row->bm, row->bn, row->tm, row->tn, row->bkb};
    while (sharedBytes(s, glu) > caps.max_shared_memory && s.bkb > 1) --s.bkb;
    VKI_ASSERT_MSG(sharedBytes(s, glu) <= caps.max_shared_memory, "matmul_q8_1 tiles do not fit shared memory");
    VKI_ASSERT_MSG(s.workgroup <= caps.max_workgroup_invocations && s.workgroup <= caps.max_workgroup_size[0],
                   "matmul_q8_1 workgroup exceeds the device's limit");
    return s;
}

}  // namespace

bool intDotSupported(const vk::DeviceCaps& caps, quant::DType dtype) {
    return (dtype == quant::DType::kQ4_0 || dtype == quant::DType::kQ8_0) && caps.integer_dot_product &&
           caps.storage_buffer_16bit;
}

void checkIntDotSupport(const vk::DeviceCaps& caps, quant::DType dtype) {
    if (dtype != quant::DType::kQ4_0 && dtype != quant::DType::kQ8_0)
        throw Error(ErrorCode::kUnsupported, std::string("the integer dot-product matmul has no kernel for ") +
                                                 quant::traits(dtype).name + " weights (q4_0 and q8_0 only)");
    if (!caps.integer_dot_product)
        throw Error(ErrorCode::kUnsupported, "device \"" + caps.name +
                                                 "\" lacks integer dot products (shaderIntegerDotProduct), needed "
                                                 "by the int8 matmul; use the fp32-activation matmul");
    if (!caps.storage_buffer_16bit)
        throw Error(ErrorCode::kUnsupported, "device \"" + caps.name +
                                                 "\" lacks 16-bit storage buffer access (storageBuffer16BitAccess), "
                                                 "needed to read quantized weights");
}

uint64_t q8_1Bytes(uint32_t k, uint32_t n) {
    VKI_ASSERT(k % 32 == 0);
    return uint64_t{n} * k / 32 * (32 + 8);
}

void recordQuantizeQ8_1(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& x, uint32_t x_stride, uint32_t k,
                        uint32_t n, const vk::BufferRange& quantized_x) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    VKI_ASSERT_MSG(k >= 32 && k % 32 == 0, "q8_1 rows are whole 32-element blocks");
    VKI_ASSERT(n >= 1 && (n == 1 || x_stride >= k));
    const uint64_t x_floats = uint64_t{n - 1} * x_stride + k;
    const uint64_t words = uint64_t{n} * k / 4;  // packed codes, one invocation each
    VKI_ASSERT_MSG(x_floats <= UINT32_MAX && q8_1Bytes(k, n) / 4 <= UINT32_MAX,
                   "activations must be indexable by 32 bits");
    VKI_ASSERT(x.size >= x_floats * 4 && quantized_x.size >= q8_1Bytes(k, n));

    // Eight invocations share a block: the workgroup must hold whole blocks.
    const uint32_t wg = streamingWorkgroupSize(caps) & ~7u;
    VKI_ASSERT(wg >= 8);
    const auto& kernel = ctx.kernels.get(ShaderId::quantize_q8_1, {{0, wg}});
    const vk::BufferRange bindings[] = {x, quantized_x};
    const shader::QuantizeQ8_1Params params{k, n, x_stride};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, gridGroups(caps, words, wg));
}

void recordMatMulQ8_1(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& a, const vk::BufferRange& quantized_x) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    checkIntDotSupport(caps, a.dtype);
    VKI_ASSERT_MSG(!present(a.norm), "the int8 matmul has no RMSNorm prologue: normalize before quantizing");
    VKI_ASSERT_MSG(a.k >= 32 && a.k % 32 == 0, "row length must be a positive multiple of 32");
    checkProductArgs(a, false);
    VKI_ASSERT(quantized_x.size >= q8_1Bytes(a.k, a.n));
    const uint64_t row_bytes = quant::byteSize(a.dtype, a.k);
    const bool glu = present(a.up);

    const MatMulQ8_1Spec s = matMulSpec(caps, glu);
    const ShaderId id = a.dtype == quant::DType::kQ4_0
                            ? (glu ? ShaderId::matmul_q4_0_q8_1_f32_glu : ShaderId::matmul_q4_0_q8_1_f32)
                            : (glu ? ShaderId::matmul_q8_0_q8_1_f32_glu : ShaderId::matmul_q8_0_q8_1_f32);
    const auto& kernel = ctx.kernels.get(id, {{0, s.workgroup},
                                              {1, s.bm},
                                              {2, s.bn},
                                              {3, s.tm},
                                              {4, s.tn},
                                              {5, s.bkb},
                                              {6, present(a.bias) ? 1u : 0u},
                                              {7, a.accumulate ? 1u : 0u}});
    // Bindings in matmul_q8_1.comp's order; no bias: quantized_x's range (never read).
    const vk::BufferRange bindings[] = {a.w, quantized_x, a.y, present(a.bias) ? a.bias : quantized_x, a.up};
    const shader::MatMulQ8_1Params params{a.k, a.rows, a.row0, static_cast<uint32_t>(row_bytes / 2), a.n, a.y_stride};
    const TileGrid grid = tileGrid(caps, a, s.bm, s.bn);
    cmd.dispatch(kernel, ctx.arena.bind(kernel, std::span(bindings, glu ? 5 : 4)), params, grid.x, grid.y);
}

}  // namespace vki::ops
