// Sum / max of a float vector with subgroup operations, in two dispatches:
// src -> one partial per workgroup (scratch) -> dst[0].
#pragma once

#include <cstdint>

#include "runtime/ops/kernel_cache.hpp"

namespace vki::ops {

enum class ReduceOp { kSum, kMax };

// The device must run subgroup arithmetic in compute shaders.
bool reduceSupported(const vk::DeviceCaps& caps);

// Floats of scratch that recordReduce needs for n inputs.
uint32_t reduceScratchCount(const vk::DeviceCaps& caps, uint64_t n);

// dst[0] = op(src[0..n)). Throws kUnsupported when !reduceSupported.
void recordReduce(OpContext& ctx, vk::CommandBuffer& cmd, ReduceOp op, const vk::BufferRange& src,
                  const vk::BufferRange& scratch, const vk::BufferRange& dst, uint64_t n);

}  // namespace vki::ops
