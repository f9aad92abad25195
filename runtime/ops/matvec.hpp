// Matrix-vector products with the weight dequantization fused in: the decode
// kernels. One pass over a weight slab serves n = 1..8 activation columns.
#pragma once

#include <cstdint>

#include "quant/quant.hpp"
#include "runtime/ops/kernel_cache.hpp"

namespace vki::ops {

// Most activation columns one matvec pass serves.
inline constexpr uint32_t kMaxMatVecColumns = 8;

// y[c][row0 + r] (=|+=) epilogue(W[r] . prologue(x[c])) for r < rows, c < n.
//   W: `rows` rows of `k` elements in GGUF block layout of `dtype` (a row slab of a
//      larger matrix; row r of the slab is output row row0 + r).
//   x: n columns of k floats, column c at float offset c * x_stride.
//   y: column c at float offset c * y_stride.
// Options:
//   norm:       RMSNorm prologue, x'[i] = x[i] * norm[i] / sqrt(mean(x^2) + eps), per column.
//   bias:       y += bias[row0 + r] (floats, indexed by output row).
//   up:         SwiGLU epilogue: a second slab of the same shape and dtype;
//               y = silu(W[r] . x) * (up[r] . x).
//   accumulate: y[c][row0 + r] += result (residual add into the producing kernel).
// Unused options are empty ranges (buffer == VK_NULL_HANDLE).
struct MatVecArgs {
    quant::DType dtype = quant::DType::kF32;
    uint32_t k = 0;
    uint32_t rows = 0;
    uint32_t row0 = 0;
    uint32_t n = 1;
    vk::BufferRange w;
    vk::BufferRange up;
    vk::BufferRange x;
    uint32_t x_stride = 0;
    vk::BufferRange y;
    uint32_t y_stride = 0;
    vk::BufferRange norm;
    float eps = 1e-5f;
    vk::BufferRange bias;
    bool accumulate = false;
};

// Throws kUnsupported naming the missing device feature or weight type.
void checkMatVecSupport(const vk::DeviceCaps& caps, quant::DType dtype);

void recordMatVec(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& args);

// Embedding lookup with dequantization: y[c][0..k) = row ids[c] of the table, for
// the columns whose id falls in this slab's rows [row0, row0 + rows). Columns with
// ids outside the slab are not written (another slab's dispatch writes them).
//   table: `rows` rows of `k` elements of `dtype`; ids: n uint32 values.
struct EmbedArgs {
    quant::DType dtype = quant::DType::kF32;
    uint32_t k = 0;
    uint32_t rows = 0;
    uint32_t row0 = 0;
    uint32_t n = 1;
    vk::BufferRange table;
    vk::BufferRange ids;
    vk::BufferRange y;
    uint32_t y_stride = 0;
};

void recordEmbed(OpContext& ctx, vk::CommandBuffer& cmd, const EmbedArgs& args);

}  // namespace vki::ops
