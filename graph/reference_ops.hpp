// CPU reference implementations of every op, in fp32 (accumulating in fp64 where a
// sum runs long). The reference executor runs graphs with these, and every GPU
// kernel is tested against them. Activations are row-major [n][width] floats: one
// row per token ("column" in the kernels' matvec vocabulary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "graph/ir.hpp"
#include "quant/quant.hpp"

namespace vki::graph::ref {

// Rows [0, rows) of a weight matrix in GGUF layout, dequantized: rows * k floats.
std::vector<float> dequantRows(quant::DType dtype, std::span<const std::byte> w, uint32_t rows, uint32_t k);

// y = x * g / sqrt(mean(x^2) + eps), one vector of k floats.
void rmsNorm(std::span<const float> x, std::span<const float> g, float eps, std::span<float> y);

// A weight matrix product with its optional fusions (the semantics of ops::MatVecArgs):
// for every token row c < n:
//   x'  = norm.empty() ? x[c] : rmsNorm(x[c], norm, eps)
//   v_r = W[r] . x'  (+ bias[r])
//   out = up.empty() ? v_r : silu(v_r) * (Up[r] . x')
//   y[c][r] = accumulate ? y[c][r] + out : out
struct MatMul {
    quant::DType dtype = quant::DType::kF32;
    uint32_t k = 0;
    uint32_t rows = 0;
    std::span<const std::byte> w;   // rows x k of dtype
    std::span<const std::byte> up;  // empty, or rows x k of dtype (SwiGLU)
    std::span<const float> norm;    // empty, or k floats
    float eps = 1e-5f;
    std::span<const float> bias;  // empty, or rows floats
    bool accumulate = false;
};
// x: n * k floats; y: n * rows floats.
void matMul(const MatMul& m, std::span<const float> x, uint32_t n, std::span<float> y);

// The same with the weights already dequantized (rows * k floats each).
struct MatMulF32 {
    uint32_t k = 0;
    uint32_t rows = 0;
    std::span<const float> w;
    std::span<const float> up;
    std::span<const float> norm;
    float eps = 1e-5f;
    std::span<const float> bias;
    bool accumulate = false;
};
void matMul(const MatMulF32& m, std::span<const float> x, uint32_t n, std::span<float> y);

// Activations quantized per 32-element block for the integer dot-product matmul, the
// host twin of shaders/quantize_q8_1.comp and bit-exact with it for inputs without
// subnormals. Per block of a column: d = amax * fl(1/127) (0 when that is subnormal),
// id = 1/d by four Newton steps from a bit-pattern guess (no division: Vulkan's is
// inexact), q = round(x * id) rounding halves away from zero (C's roundf), s = d * sum(q).
// That is ggml's quantize_row_q8_1 but for how d and 1/d are computed.
struct Q8_1 {
    std::vector<int8_t> codes;  // n * k
    std::vector<float> d;       // n * k / 32
    std::vector<float> s;       // n * k / 32
};
// x: n * k floats, k a multiple of 32.
Q8_1 quantizeQ8_1(std::span<const float> x, uint32_t k, uint32_t n);
// d * q per element: n * k floats.
std::vector<float> dequantQ8_1(const Q8_1& q);

// Embedding rows: y[c] = dequantized row ids[c] of the table (rows x k of dtype).
void embed(quant::DType dtype, std::span<const std::byte> table, uint32_t rows, uint32_t k,
           std::span<const uint32_t> ids, std::span<float> y);

// silu(a) * b elementwise.
void swiGlu(std::span<const float> a, std::span<const float> b, std::span<float> y);

// RoPE in place on one token's `heads` vectors of head_dim floats at `position`:
// pairs (2i, 2i + 1) for kNormal, (i, i + head_dim / 2) for kNeox, rotated by
// theta = position * inv_freq[i] (computed in fp32, as the kernels do).
void rope(std::span<float> x, uint32_t heads, const AttentionConfig& a, uint32_t position);
// Rotated K moved by `delta` positions (rotated by delta more, without rope_mscale,
// which the stored K already has): what rope_shift.comp does to the cache.
void ropeShift(std::span<float> x, uint32_t heads, const AttentionConfig& a, int32_t delta);

// Causal attention of one token: q holds n_head vectors; keys and values hold `len`
// rows of n_head_kv * head_dim floats (the cache up to and including the token), of
// which it reads the last a.window (all without a window); query head h reads kv
// head h / (n_head / n_head_kv).
void attention(const AttentionConfig& a, std::span<const float> q, std::span<const float> keys,
               std::span<const float> values, uint32_t len, std::span<float> out);

// x rounded to the nearest fp16 (what the KV cache stores).
float roundFp16(float x);

// Index of the largest value (the first on ties).
uint32_t argMax(std::span<const float> x);

}  // namespace vki::graph::ref
