#include "runtime/ops/elementwise.hpp"

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

namespace {

uint32_t checkedCount(uint64_t n) {
    VKI_ASSERT_MSG(n > 0 && n <= UINT32_MAX, "element count must be in [1, 2^32): split the tensor into slabs");
    return static_cast<uint32_t>(n);
}

}  // namespace

void recordCopy(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& src, const vk::BufferRange& dst,
                uint64_t n, bool vec4) {
    const uint64_t elem = vec4 ? 16 : 4;
    VKI_ASSERT(src.size >= n * elem && dst.size >= n * elem);
    const uint32_t wg = streamingWorkgroupSize(ctx.device.caps());
    const auto& kernel = ctx.kernels.get(vec4 ? shaders::ShaderId::copy_vec4 : shaders::ShaderId::copy_f32, {{0, wg}});
    const vk::BufferRange bindings[] = {src, dst};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), shader::CopyParams{checkedCount(n)},
                 gridGroups(ctx.device.caps(), n, wg));
}

void recordBinary(OpContext& ctx, vk::CommandBuffer& cmd, BinaryOp op, const vk::BufferRange& a,
                  const vk::BufferRange& b, const vk::BufferRange& dst, uint64_t n, uint64_t n_b) {
    VKI_ASSERT(n_b >= 1 && n_b <= n);
    VKI_ASSERT(a.size >= n * 4 && b.size >= n_b * 4 && dst.size >= n * 4);
    const uint32_t wg = streamingWorkgroupSize(ctx.device.caps());
    const auto id = op == BinaryOp::kAdd ? shaders::ShaderId::add_f32 : shaders::ShaderId::mul_f32;
    const auto& kernel = ctx.kernels.get(id, {{0, wg}});
    const vk::BufferRange bindings[] = {a, b, dst};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings),
                 shader::BinaryParams{checkedCount(n), static_cast<uint32_t>(n_b)},
                 gridGroups(ctx.device.caps(), n, wg));
}

}  // namespace vki::ops
