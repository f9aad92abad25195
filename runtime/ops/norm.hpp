// RMSNorm as its own dispatch (the matvec kernels can also fold it in as a prologue).
#pragma once

#include <cstdint>

#include "runtime/ops/kernel_cache.hpp"

namespace vki::ops {

// y[c][0..k) = x[c] * g / sqrt(mean(x[c]^2) + eps) for c < n; columns at c * x_stride
// and c * y_stride floats.
void recordRmsNorm(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& x, uint32_t x_stride,
                   const vk::BufferRange& g, const vk::BufferRange& y, uint32_t y_stride, uint32_t k, uint32_t n,
                   float eps);

}  // namespace vki::ops
