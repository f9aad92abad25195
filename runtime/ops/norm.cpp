#include "runtime/ops/norm.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

void recordRmsNorm(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& x, uint32_t x_stride,
                   const vk::BufferRange& g, const vk::BufferRange& y, uint32_t y_stride, uint32_t k, uint32_t n,
                   float eps) {
    VKI_ASSERT(n > 0 && k > 0 && x_stride >= k && y_stride >= k);
    VKI_ASSERT(x.size >= (uint64_t{n - 1} * x_stride + k) * 4 && y.size >= (uint64_t{n - 1} * y_stride + k) * 4);
    VKI_ASSERT(g.size >= uint64_t{k} * 4);
    const uint32_t wg = std::clamp<uint32_t>(ctx.device.caps().subgroup_size * 8, 64, 256);
    const auto& kernel = ctx.kernels.get(shaders::ShaderId::rms_norm, {{0, wg}});
    const vk::BufferRange bindings[] = {x, g, y};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), shader::RmsNormParams{k, x_stride, y_stride, eps}, n);
}

}  // namespace vki::ops
