// Streaming elementwise kernels: copy, and binary ops with broadcast.
#pragma once

#include <cstdint>

#include "runtime/ops/kernel_cache.hpp"

namespace vki::ops {

// dst[0..n) = src[0..n), in floats. With `vec4` the ranges are read as vec4 and n
// counts vec4s (16-byte aligned, the bandwidth probe's form).
void recordCopy(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& src, const vk::BufferRange& dst,
                uint64_t n, bool vec4 = false);

enum class BinaryOp { kAdd, kMul };

// dst[i] = a[i] op b[i % n_b] for i < n (floats). n_b in [1, n].
void recordBinary(OpContext& ctx, vk::CommandBuffer& cmd, BinaryOp op, const vk::BufferRange& a,
                  const vk::BufferRange& b, const vk::BufferRange& dst, uint64_t n, uint64_t n_b);

}  // namespace vki::ops
