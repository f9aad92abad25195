#include "runtime/ops/matmul.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <span>
#include <vector>

#include "common/error.hpp"
#include "runtime/ops/weights.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

namespace {

// The matmul tuning table, keyed by subgroup width and shared memory: the first row
// whose minimums the device reaches. A workgroup computes a bm x bn tile of y in
// k-steps of bk, (bm / tm) * (bn / tn) invocations each accumulating tm x tn outputs
// (tm, tn multiples of 4: shared memory is read as vec4s). Larger tiles decode each
// weight for more columns and load each x for more rows; larger micro-tiles do more
// multiply-adds per shared-memory read. Shared memory holds the (gate and up) weight
// tiles and the x tile, 4 * bk * ((glu ? 2 : 1) * bm + bn) bytes: 24 KiB for glu at
// 64 x 64 x 32, 32 KiB at 64 x 128 x 32. Measured with bench/kernels.cpp (matmul,
// dim 1024, n = 512; best of 3 on a loaded 2-core host, +-30% noise):
//   lavapipe (8-wide, 32 KiB): 64 x 128 tiles of 4 x 8 (0.9-1.0 GFLOP/s on q4_0, q4_K,
//     f16) beat 64 x 64 of 4 x 4 (0.64-0.92), 64 x 64 of 8 x 4 or 8 x 8 (0.30-0.63) and
//     32 x 32 of 4 x 4 (0.24-0.34): every shared-memory load is a per-lane loop there,
//     so vec4 loads and wide tiles pay. Each pipeline costs ~0.9 s of LLVM.
struct MatMulTuning {
    uint32_t min_subgroup;
    uint32_t min_shared_memory;
    uint32_t bm, bn, bk, tm, tn;
};
constexpr MatMulTuning kMatMulTuning[] = {
    {16, 32768, 64, 64, 32, 4, 4},  // GPUs: 256 invocations (not measured here)
    {1, 32768, 64, 128, 32, 4, 8},  // narrow SIMD (CPU implementations, 8-wide)
    {1, 0, 32, 32, 32, 4, 4},       // the 16 KiB minimum of maxComputeSharedMemorySize
};

struct MatMulSpec {
    uint32_t bm, bn, bk, tm, tn;
    uint32_t workgroup;
    uint32_t chunk_threads;  // decoding invocations per 32-element chunk
    // Cooperative matrices: the shape, the subgroups (sg_m along the rows) and the
    // blocks each owns (cm_bm x cm_bn).
    std::optional<CoopMatShape> coopmat;
    uint32_t subgroups = 0, sg_m = 0, cm_bm = 0, cm_bn = 0;
};

// Every (row, chunk) of a weight tile gets invocations to decode its 8 groups of 4.
uint32_t chunkThreads(uint32_t workgroup, uint32_t bm, uint32_t bk) {
    return std::clamp(workgroup / (bm * bk / 32), 1u, 8u);
}

// Cooperative-matrix tiles: 64 rows x 128 columns x 32, eight subgroups in a 2 x 4
// grid each owning a 32 x 32 corner (2 x 2 blocks of 16 x 16, or 2 x 4 of 16 x 8).
// fp16 weight and x tiles: 13 KiB, 18 KiB with SwiGLU's second weight tile, plus one
// block of floats per subgroup. Rows of a dim-2048 model's matrices give 32+ row
// tiles, times 4 column tiles for a 512-token chunk: enough workgroups for a big GPU.
std::optional<MatMulSpec> coopMatSpec(const vk::DeviceCaps& caps, bool glu) {
    const std::optional<CoopMatShape> shape = matMulCoopMatShape(caps);
    if (!shape) return std::nullopt;
    MatMulSpec s{64, 128, 32, 0, 0, 0, 0, shape, 8, 2, 0, 0};
    const uint32_t subgroup = caps.subgroup_size;
    const uint32_t sg_n = s.subgroups / s.sg_m;
    if (s.bm % (s.sg_m * shape->m) || s.bn % (sg_n * shape->n) || s.bk % shape->k) return std::nullopt;
    s.cm_bm = s.bm / (s.sg_m * shape->m);
    s.cm_bn = s.bn / (sg_n * shape->n);
    // The kernel's per-lane share of a block is at most 16 floats.
    if (shape->m * shape->n > 16 * subgroup) return std::nullopt;
    s.workgroup = s.subgroups * subgroup;
    const uint64_t shared =
        2ull * s.bk * ((glu ? 2 : 1) * (s.bm + 8) + s.bn + 8) + 4ull * s.subgroups * shape->m * shape->n;
    if (s.workgroup > std::min(caps.max_workgroup_invocations, caps.max_workgroup_size[0]) ||
        shared > caps.max_shared_memory)
        return std::nullopt;
    s.chunk_threads = chunkThreads(s.workgroup, s.bm, s.bk);
    return s;
}

MatMulSpec matMulSpec(const vk::DeviceCaps& caps, bool glu) {
    if (auto coop = coopMatSpec(caps, glu)) return *coop;
    const uint32_t subgroup = std::max(1u, caps.subgroup_size);
    const MatMulTuning* row = &kMatMulTuning[std::size(kMatMulTuning) - 1];
    for (const auto& t : kMatMulTuning) {
        if (subgroup >= t.min_subgroup && caps.max_shared_memory >= t.min_shared_memory) {
            row = &t;
            break;
        }
    }
    MatMulSpec s{row->bm, row->bn, row->bk, row->tm, row->tn, 0, 0, std::nullopt, 0, 0, 0, 0};
    const uint32_t max_workgroup = std::min(caps.max_workgroup_invocations, caps.max_workgroup_size[0]);
    auto invocations = [&] { return (s.bm / s.tm) * (s.bn / s.tn); };
    auto shared_bytes = [&] { return 4ull * s.bk * ((glu ? 2 : 1) * s.bm + s.bn); };
    auto fits = [&] { return invocations() <= max_workgroup && shared_bytes() <= caps.max_shared_memory; };
    while (!fits() && s.bn > s.tn) s.bn /= 2;
    while (!fits() && s.bm > s.tm) s.bm /= 2;
    VKI_ASSERT_MSG(fits(), "matmul tiles do not fit the device's workgroup or shared memory limits");
    s.workgroup = invocations();
    s.chunk_threads = chunkThreads(s.workgroup, s.bm, s.bk);
    return s;
}

}  // namespace

std::optional<CoopMatShape> matMulCoopMatShape(const vk::DeviceCaps& caps) {
    if (!caps.cooperative_matrix_nv || !caps.shader_fp16 || !caps.vulkan_memory_model ||
        !caps.hasSubgroupOps(VK_SUBGROUP_FEATURE_BASIC_BIT))
        return std::nullopt;
    // Subgroups must be exactly subgroup_size wide: the kernel divides blocks among them.
    if (caps.subgroup_min_size != caps.subgroup_size) return std::nullopt;
    for (const CoopMatShape want : {CoopMatShape{16, 16, 16}, CoopMatShape{16, 8, 16}}) {
        for (const vk::CoopMatShape& s : caps.cooperative_matrix_nv_shapes) {
            if (s.m == want.m && s.n == want.n && s.k == want.k && s.a_type == "f16" && s.b_type == "f16" &&
                s.c_type == "f32" && s.result_type == "f32" && s.scope == "subgroup")
                return want;
        }
    }
    return std::nullopt;
}

void checkMatMulSupport(const vk::DeviceCaps& caps, quant::DType dtype) {
    checkWeightSupport(caps, dtype, "matmul");
}

void recordMatMul(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& a) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    checkMatMulSupport(caps, a.dtype);
    checkRowLength(a.dtype, a.k);
    VKI_ASSERT_MSG(!present(a.norm), "matmul has no RMSNorm prologue: record it as its own dispatch");
    checkProductArgs(a, true);
    const bool glu = present(a.up);

    const WeightKernels& ids = *findKernels(a.dtype);
    const MatMulSpec spec = matMulSpec(caps, glu);
    std::vector<vk::SpecConstant> constants = {{0, spec.workgroup},
                                               {1, spec.bm},
                                               {2, spec.bn},
                                               {3, spec.bk},
                                               {4, spec.tm},
                                               {5, spec.tn},
                                               {6, spec.chunk_threads},
                                               {7, present(a.bias) ? 1u : 0u},
                                               {8, a.accumulate ? 1u : 0u}};
    shaders::ShaderId id = glu ? ids.matmul_glu : ids.matmul;
    if (spec.coopmat) {
        id = glu ? ids.matmul_glu_coopmat : ids.matmul_coopmat;
        constants.insert(constants.end(), {{9, spec.coopmat->m},
                                           {10, spec.coopmat->n},
                                           {11, spec.coopmat->k},
                                           {12, spec.cm_bm},
                                           {13, spec.cm_bn},
                                           {14, spec.subgroups},
                                           {15, spec.sg_m}});
    }
    const auto& kernel = ctx.kernels.get(id, std::move(constants));
    // Bindings in matmul.comp's order; a missing bias reads x's range (never accessed).
    const vk::BufferRange bindings[] = {a.w, a.x, a.y, present(a.bias) ? a.bias : a.x, a.up};
    const shader::MatMulParams params{a.k, a.rows, a.row0, rowWords(a.dtype, a.k), a.n, a.x_stride, a.y_stride};

    const TileGrid grid = tileGrid(caps, a, spec.bm, spec.bn);
    cmd.dispatch(kernel, ctx.arena.bind(kernel, std::span(bindings, glu ? 5 : 4)), params, grid.x, grid.y);
}

}  // namespace vki::ops
