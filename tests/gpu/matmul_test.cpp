// Tiled fused-dequant matmul kernels (prompt chunks) against the CPU reference
// (graph/reference_ops.hpp) on fresh random data, for every weight type, with row
// counts, column counts and (plain floats) row lengths that are not multiples of the
// tiles; support/weight_ops.hpp runs each case and checks outputs, padding and guard.
#include <string>

#include "runtime/ops/matmul.hpp"
#include "support/weight_ops.hpp"

namespace vki::test {
namespace {

using quant::DType;

// Tolerance of a matmul output, relative to sum_i |w_i x_i| of its row. The kernel
// decodes every weight to exactly quant::dequantize's value (dqValues4, bit-exact: the
// embed tests check it), x is read as is, so the only difference from the fp64
// reference is fp32 arithmetic: each output is one invocation's serial sum of k
// products. Whatever the order, and whether or not products are fused into the adds,
// that is within gamma_k = k u / (1 - k u) of sum |w_i x_i| (u = 2^-24; Higham,
// "Accuracy and Stability of Numerical Algorithms", 3.1); (k + 1) u covers it. At
// the k <= 768 used here that is <= 4.6e-5, while one wrong weight of a row is off by
// about 1 / k of the magnitude (>= 1.3e-3 relative) and fails.
// On devices with cooperative matrices the tiles hold fp16: each weight and each x
// rounds to fp16 (relative 2^-11 each, unless it is subnormal there: |w|, |x| here
// are far above 2^-14), so each product is within 2 * 2^-11 + 2^-22 of its value, and
// the fp32 sums add gamma_k as above: 1e-3 + (k + 1) u of sum |w_i x_i|.
SumTolerance tolerance(const vk::DeviceCaps& caps, uint32_t k) {
    const double sums = (k + 1.0) / 16777216.0;
    return {.relative = ops::matMulCoopMatShape(caps) ? 1e-3 + sums : sums, .factored_offsets = false};
}

class MatMul : public WeightOpTest {
protected:
    void runMatMul(const MatMulCase& c) { runProduct(c, ops::recordMatMul, tolerance(device().caps(), c.k)); }
};

// Each pipeline costs lavapipe LLVM time and the column count is a push constant, so
// coverage comes from a rotation of shapes over the types (one pipeline per type
// here), not a cross product.

// Every type, every row length of rowLengths (k = 1 is a tail alone, 67 and 200 end
// in partial chunks), rows 1, 33, 65, 130, 20 and n 17, 1, 64, 100, 257 against tiles
// of 64 rows by 64 (GPUs) or 128 (lavapipe) columns: single, partial and several tiles.
TEST_F(MatMul, EveryTypeMatchesReference) {
    const std::pair<uint32_t, uint32_t> kShapes[] = {{1, 17}, {33, 1}, {130, 100}, {65, 64}, {20, 257}};  // rows, n
    for (DType dtype : quant::kAllDTypes) {
        const std::vector<uint32_t> ks = rowLengths(dtype);
        for (size_t i = 0; i < std::size(kShapes); ++i) {
            runMatMul({.dtype = dtype, .k = ks[i % ks.size()], .rows = kShapes[i].first, .n = kShapes[i].second});
            if (HasFatalFailure()) return;
        }
    }
}

// Each option alone and all combined (four pipelines: each costs LLVM time), on a
// float type with a tail and on a K-quant.
TEST_F(MatMul, OptionsMatchReference) {
    runMatMul({.dtype = DType::kF32, .k = 67, .rows = 33, .n = 17, .bias = true});
    runMatMul({.dtype = DType::kF32, .k = 67, .rows = 33, .n = 17, .accumulate = true});
    runMatMul({.dtype = DType::kQ4_K, .k = 512, .rows = 130, .n = 100, .glu = true});
    runMatMul({.dtype = DType::kQ4_K, .k = 512, .rows = 130, .n = 100, .bias = true, .glu = true, .accumulate = true});
}

// A matrix in 2 or 3 row slabs (separate buffers, row0 > 0) whose dispatches fill y together.
TEST_F(MatMul, SlabsFillTheOutput) {
    runMatMul({.dtype = DType::kQ4_0, .k = 64, .rows = 40, .n = 17, .slabs = {17, 23}});
    runMatMul({.dtype = DType::kQ6_K, .k = 256, .rows = 41, .n = 64, .bias = true, .glu = true, .slabs = {1, 33, 7}});
    runMatMul({.dtype = DType::kF16,
               .k = 45,
               .rows = 130,
               .n = 100,
               .bias = true,
               .glu = true,
               .accumulate = true,
               .slabs = {9, 57, 64}});
}

TEST_F(MatMul, UnsupportedDevicesAreRejected) {
    vk::DeviceCaps caps = device().caps();
    caps.subgroup_ops = 0;  // matmul uses no subgroup operations
    caps.storage_buffer_16bit = false;
    EXPECT_NO_THROW(ops::checkMatMulSupport(caps, DType::kF32));  // 32-bit loads only
    try {
        ops::checkMatMulSupport(caps, DType::kQ4_K);
        FAIL() << "no error without 16-bit storage";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("16-bit storage"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace vki::test
