// Shared by the matvec and matmul tests: random weights of every type, and one
// product (with its options and row slabs) run on the GPU and checked against the
// CPU reference (graph/reference_ops.hpp) on fresh random data. Outputs are poisoned
// first, with padding between columns and a guard tail that must stay poisoned; x is
// padded with NaN that must never be read.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "quant/quant.hpp"
#include "runtime/ops/matvec.hpp"
#include "support/gpu.hpp"

namespace vki::test {

inline constexpr size_t kGuard = 67;  // floats after the output that no kernel may touch
inline constexpr uint32_t kXPad = 3;  // NaN floats after each column of x
inline constexpr uint32_t kYPad = 5;  // poisoned floats after each column of y

bool isPoison(float x);
float poisonFloat();

struct MatMulCase {
    quant::DType dtype = quant::DType::kF32;
    uint32_t k = 0;
    uint32_t rows = 0;
    uint32_t n = 1;
    bool norm = false;
    bool bias = false;
    bool glu = false;
    bool accumulate = false;
    std::vector<uint32_t> slabs;  // rows of each slab (separate buffers); empty: one slab

    std::string name() const;
};

// How far an output may be from the fp64 reference: `relative` times a magnitude of
// its row's terms, sum_i |w_i x'_i|, raised where `factored_offsets` (a kernel that
// applies the offsets of q4_1, q5_1, q4_K and q5_K to sum(x) rather than per weight)
// to 3 max_i |w_i| sum_i |x'_i| for those formats (matvec_test.cpp says why). On top,
// final fp32 roundings (bias add, accumulate) and, with SwiGLU, exp() (3 + 2|v| ulp in
// GLSL) and the division in silu, relative to the value itself.
struct SumTolerance {
    double relative = 0;
    bool factored_offsets = false;
};

using RecordProduct = void (*)(ops::OpContext&, vk::CommandBuffer&, const ops::MatVecArgs&);

class WeightOpTest : public GpuTest {
protected:
    // rows x k weights of `dtype`: random floats quantized, or, for the types that
    // only dequantize (q5_0, q5_1), random codes under random f16 scales.
    std::vector<std::byte> randomWeights(quant::DType dtype, uint32_t rows, uint32_t k);
    vk::Buffer uploadBytes(std::span<const std::byte> bytes, const char* label);

    // Records `record` once per slab of c (row0 = the rows of the slabs before it) and
    // checks every output, the padding and the guard tail.
    void runProduct(const MatMulCase& c, RecordProduct record, SumTolerance tol);
};

// Block multiples for a type: one block, several; plain floats also take odd lengths.
std::vector<uint32_t> rowLengths(quant::DType dtype);

}  // namespace vki::test
