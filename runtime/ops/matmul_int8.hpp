// Integer dot-product matrix products for prompt chunks: the activations are first
// quantized per 32-element block to int8 (q8_1: codes, scale d, d * sum of codes),
// then Q4_0 / Q8_0 weights meet them in packed 4 x int8 dot products
// (shaderIntegerDotProduct, core in Vulkan 1.3). The fp32-activation tiled kernel
// (recordMatMul) serves the devices and weight types this one does not.
#pragma once

#include <cstdint>

#include "quant/quant.hpp"
#include "runtime/ops/kernel_cache.hpp"
#include "runtime/ops/matvec.hpp"

namespace vki::ops {

// Whether recordMatMulQ8_1 runs `dtype` weights on this device: Q4_0 or Q8_0, integer
// dot products and 16-bit storage buffer access (the weight loads).
bool intDotSupported(const vk::DeviceCaps& caps, quant::DType dtype);
// Throws kUnsupported naming what the device or weight type lacks.
void checkIntDotSupport(const vk::DeviceCaps& caps, quant::DType dtype);

// Bytes of the quantized activations of n columns of k elements (k a multiple of 32):
// n * k / 32 blocks of 32 one-byte codes, then their (d, s) float pairs. Block b of
// column c holds codes at byte 32 * (c * k / 32 + b), element e at byte e of the block;
// its pair at byte n * k + 8 * (c * k / 32 + b).
uint64_t q8_1Bytes(uint32_t k, uint32_t n);

// quantized_x (q8_1Bytes(k, n) bytes) = the q8_1 blocks of x, n columns of k floats,
// column c at float offset c * x_stride (graph::ref::quantizeQ8_1, bit for bit).
// Needs no device feature. A barrier must separate it from the matmul that reads it.
void recordQuantizeQ8_1(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& x, uint32_t x_stride, uint32_t k,
                        uint32_t n, const vk::BufferRange& quantized_x);

// recordMatVec's product (MatVecArgs: y, bias, up, accumulate, row slabs) for any
// n >= 1, with the activations taken from quantized_x, recordQuantizeQ8_1's output for
// the same k and n; args.x and args.x_stride are not read and args.norm must be empty.
// Throws kUnsupported when !intDotSupported(caps, args.dtype).
void recordMatMulQ8_1(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& args,
                      const vk::BufferRange& quantized_x);

}  // namespace vki::ops
