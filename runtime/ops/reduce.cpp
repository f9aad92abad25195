#include "runtime/ops/reduce.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

namespace {

// The second pass is one workgroup looping over the partials: keep them few.
constexpr uint32_t kMaxPartials = 1024;

}  // namespace

bool reduceSupported(const vk::DeviceCaps& caps) {
    return caps.hasSubgroupOps(VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
}

uint32_t reduceScratchCount(const vk::DeviceCaps& caps, uint64_t n) {
    return std::min(gridGroups(caps, n, streamingWorkgroupSize(caps)), kMaxPartials);
}

void recordReduce(OpContext& ctx, vk::CommandBuffer& cmd, ReduceOp op, const vk::BufferRange& src,
                  const vk::BufferRange& scratch, const vk::BufferRange& dst, uint64_t n) {
    const vk::DeviceCaps& caps = ctx.device.caps();
    if (!reduceSupported(caps))
        throw Error(ErrorCode::kUnsupported,
                    "device \"" + caps.name + "\" lacks subgroup arithmetic in compute shaders (needed by reductions)");
    VKI_ASSERT_MSG(n > 0 && n <= UINT32_MAX, "reduction length must be in [1, 2^32)");
    const uint32_t partials = reduceScratchCount(caps, n);
    VKI_ASSERT(src.size >= n * 4 && scratch.size >= partials * 4ull && dst.size >= 4);

    const uint32_t wg = streamingWorkgroupSize(caps);
    const auto id = op == ReduceOp::kSum ? shaders::ShaderId::sum_f32 : shaders::ShaderId::max_f32;
    const auto& kernel = ctx.kernels.get(id, {{0, wg}});
    const vk::BufferRange pass1[] = {src, scratch};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, pass1), shader::ReduceParams{static_cast<uint32_t>(n)}, partials);
    cmd.barrier();
    const vk::BufferRange pass2[] = {scratch, dst};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, pass2), shader::ReduceParams{partials}, 1);
}

}  // namespace vki::ops
