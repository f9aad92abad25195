// Matrix-matrix products with the weight dequantization fused in: the prefill
// kernels. One dispatch multiplies a weight slab by a whole prompt chunk.
#pragma once

#include <optional>

#include "runtime/ops/matvec.hpp"

namespace vki::ops {

// The cooperative-matrix shape (fp16 x fp16 + fp32, subgroup scope) the matmul uses
// on this device; none where it has no such shape (the fp32 tiles run instead).
struct CoopMatShape {
    uint32_t m = 0, n = 0, k = 0;
};
std::optional<CoopMatShape> matMulCoopMatShape(const vk::DeviceCaps& caps);

// Throws kUnsupported naming the missing device feature or weight type.
void checkMatMulSupport(const vk::DeviceCaps& caps, quant::DType dtype);

// y[c][row0 + r] (=|+=) epilogue(W[r] . x[c]) for r < rows, c < n: MatVecArgs'
// contract, except that n is any count >= 1 and `norm` must be empty (run RMSNorm
// as its own dispatch first). Every column count shares one pipeline per weight type
// and option set; rows, n and k need not be multiples of the kernel's tiles.
void recordMatMul(OpContext& ctx, vk::CommandBuffer& cmd, const MatVecArgs& args);

}  // namespace vki::ops
