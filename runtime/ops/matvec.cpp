#include "runtime/ops/matvec.hpp"

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

// The matvec tuning table, keyed by subgroup width: the first row whose
// min_subgroup the device's subgroups reach. A workgroup holds a few subgroups
// striding over its rows' 32-element chunks, chunk_threads invocations to a chunk,
// so that a subgroup's loads cover a short contiguous span. rows_per_group trades
// x reuse (each x load serves every row of the group) against registers and the
// number of workgroups. Measured with bench/kernels.cpp (4096 x 4096, n = 1):
//   H100 (32-wide): 4 invocations per chunk are 1.5-2.5x faster than 1; 256 x 4 rows
//     beat 128 x 2 by 5-15% on q4_0, q8_0, f16 and tie on q4_K, q6_K; unrolling the
//     chunk loop further gained nothing.
//   lavapipe (8-wide): 4 invocations per chunk beat 1 on all but q4_K; 4 rows are
//     ~15% faster than 2 but cost ~20% more LLVM time per pipeline, which the test
//     suite pays on every cold cache: 2 it is.
struct MatVecTuning {
    uint32_t min_subgroup;
    uint32_t workgroup;
    uint32_t rows_per_group;
    uint32_t chunk_threads;  // 1, 2, 4 or 8
};
constexpr MatVecTuning kMatVecTuning[] = {
    {64, 256, 2, 4},  // 64-wide subgroups: 4 per workgroup (not measured here)
    {32, 256, 4, 4},  // 32-wide: 8 per workgroup
    {16, 64, 2, 4},   // 16-wide: 4 per workgroup (not measured here)
    {1, 64, 2, 4},    // narrow SIMD (CPU implementations, 8-wide)
};

struct MatVecSpec {
    uint32_t workgroup;
    uint32_t rows_per_group;
    uint32_t chunk_threads;
    uint32_t max_subgroups;  // shared-memory slots for cross-subgroup sums
};

MatVecSpec matVecSpec(const vk::DeviceCaps& caps, uint32_t n, bool glu) {
    const uint32_t subgroup = std::max(1u, caps.subgroup_size);
    const MatVecTuning* row = &kMatVecTuning[std::size(kMatVecTuning) - 1];
    for (const auto& t : kMatVecTuning) {
        if (subgroup >= t.min_subgroup) {
            row = &t;
            break;
        }
    }
    MatVecSpec s;
    s.chunk_threads = row->chunk_threads;
    s.workgroup = std::min({row->workgroup, caps.max_workgroup_invocations, caps.max_workgroup_size[0]});
    // Accumulators per invocation: (glu ? 2 : 1) * rows * n; keep them at most 16.
    const uint32_t sums_per_row = (glu ? 2 : 1) * n;
    s.rows_per_group = std::max(1u, std::min(row->rows_per_group, 16 / sums_per_row));
    // Subgroups are exactly subgroup_size wide without subgroup size control (no
    // pipeline here requests varying sizes); the minimum covers devices that vary anyway.
    const uint32_t narrowest =
        std::max(1u, std::min(subgroup, caps.subgroup_min_size ? caps.subgroup_min_size : subgroup));
    s.max_subgroups = (s.workgroup + narrowest - 1) / narrowest;
    auto shared_bytes = [&] { return 4ull * (s.max_subgroups * s.rows_per_group * sums_per_row + n); };
    while (shared_bytes() > caps.max_shared_memory && s.rows_per_group > 1) --s.rows_per_group;
    VKI_ASSERT_MSG(shared_bytes() <= caps.max_shared_memory, "matvec reduction does not fit shared memory");
    return s;
}

}  // namespace

void checkMatVecSupport(const vk::DeviceCaps& caps, quant::DType dtype) {
    if (!caps.hasSubgroupOps(VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT))
        throw Error(ErrorCode::kUnsupported,
                    "device \"" + caps.name + "\" lacks subgroup arithmetic in compute shaders (needed by matvec)");
    checkWeightSupport(caps, dtype, "matvec");
}

void recordMatVec(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& a) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    checkMatVecSupport(caps, a.dtype);
    checkRowLength(a.dtype, a.k);
    VKI_ASSERT(a.n <= kMaxMatVecColumns);
    checkProductArgs(a, true);
    const bool glu = present(a.up);

    const WeightKernels& ids = *findKernels(a.dtype);
    const MatVecSpec spec = matVecSpec(caps, a.n, glu);
    const auto& kernel = ctx.kernels.get(glu ? ids.matvec_glu : ids.matvec, {{0, spec.workgroup},
                                                                             {1, spec.rows_per_group},
                                                                             {2, a.n},
                                                                             {3, present(a.norm) ? 1u : 0u},
                                                                             {4, present(a.bias) ? 1u : 0u},
                                                                             {5, a.accumulate ? 1u : 0u},
                                                                             {6, spec.max_subgroups},
                                                                             {7, spec.chunk_threads}});
    // Bindings in matvec.comp's order; options not in use read x's range (never accessed).
    const vk::BufferRange bindings[] = {a.w, a.x, a.y, present(a.norm) ? a.norm : a.x, present(a.bias) ? a.bias : a.x,
                                        a.up};
    const shader::MatVecParams params{a.k, a.rows, a.row0, rowWords(a.dtype, a.k), a.x_stride, a.y_stride, a.eps};

    // Workgroups on a 2D grid: slabs of 150k+ rows exceed maxComputeWorkGroupCount[0].
    const uint32_t groups = (a.rows + spec.rows_per_group - 1) / spec.rows_per_group;
    const uint32_t groups_x = std::min({groups, caps.max_workgroup_count[0], 65535u});
    const uint32_t groups_y = (groups + groups_x - 1) / groups_x;
    VKI_ASSERT(groups_y <= caps.max_workgroup_count[1]);
    cmd.dispatch(kernel, ctx.arena.bind(kernel, std::span(bindings, glu ? 6 : 5)), params, groups_x, groups_y);
}

void recordEmbed(OpContext& ctx, vk::CommandBuffer& cmd, const EmbedArgs& a) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    checkWeightSupport(caps, a.dtype, "embed");
    checkRowLength(a.dtype, a.k);
    VKI_ASSERT(a.n >= 1 && a.rows >= 1);
    VKI_ASSERT(a.n == 1 || a.y_stride >= a.k);
    VKI_ASSERT(a.table.size >= quant::byteSize(a.dtype, a.k) * a.rows);
    VKI_ASSERT(a.ids.size >= uint64_t{a.n} * 4);
    const uint64_t y_floats = columnsSpan(a.n, a.y_stride, a.k);
    const uint64_t items = uint64_t{a.n} * ((a.k + 31) / 32);  // one invocation per 32-element chunk
    VKI_ASSERT_MSG(y_floats <= UINT32_MAX && items <= UINT32_MAX, "embedding output must be indexable by 32 bits");
    VKI_ASSERT(a.y.size >= y_floats * 4);

    const uint32_t wg = streamingWorkgroupSize(caps);
    const auto& kernel = ctx.kernels.get(findKernels(a.dtype)->embed, {{0, wg}});
    const vk::BufferRange bindings[] = {a.table, a.ids, a.y};
    const shader::EmbedParams params{a.k, a.rows, a.row0, a.n, rowWords(a.dtype, a.k), a.y_stride};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, gridGroups(caps, items, wg));
}

}  // namespace vki::ops
