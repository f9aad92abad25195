// The integer dot-product matmul path (runtime/ops/matmul_int8.hpp) against the CPU
// reference on fresh random data: the q8_1 activation codes against the reference
// quantizer (exact but for rounding ties, see expectQuantized), then the product
// against graph::ref::matMul over the dequantized weights and the dequantized q8_1
// activations the device wrote. Outputs are poisoned first, with padding between columns and a guard
// tail that must stay poisoned; x is padded with NaN that must never be read.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <span>
#include <string>

#include "graph/reference_ops.hpp"
#include "runtime/ops/matmul_int8.hpp"
#include "support/weight_ops.hpp"

namespace vki::test {
namespace {

using quant::DType;

// Tolerance of an output, relative to M, the magnitude of its row's terms. The codes
// and block scales are the reference's bit for bit (checked), so the kernel's integer
// dot products are exact and only fp32 roundings remain: per block d_x * dot, for
// Q4_0 the subtraction of 8 * s_x (s_x itself rounded once), the multiply by d_w and
// the add into the row's running sum (k / 32 adds in sequence); the reference rounds
// each activation d_x * q once more and sums in fp64. That is at most k / 32 + 5
// roundings of values no larger than M, each 2^-24 relative; kRoundings doubles it
// for margin. M is sum_i |w_i x_i|, and for Q4_0, whose dot(q, q_x) and 8 * s_x parts
// each exceed the weights' share (q in 0..15 vs q - 8 in -8..7), 3 max_i |w_i| sum_i |x_i|.
// One wrong code of 1024 would be off by ~1/1024 of M and fail.
double relTol(uint32_t k) {
    return 2.0 * (k / 32 + 5) * std::ldexp(1.0, -24);
}
// Final fp32 roundings (bias add, accumulate) and, with SwiGLU, exp() (3 + 2|v| ulp in
// GLSL) and the division in silu: relative to the value itself.
constexpr double kFinalTol = 1e-6;
constexpr double kSiluTol = 1e-5;

uint32_t bitsOf(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

double silu(double v) {
    return v / (1.0 + std::exp(-v));
}

// The int8 path has no norm prologue: cases leave MatMulCase::norm off.
using Case = MatMulCase;

class MatMulQ8_1 : public GpuTest {
protected:
    vk::Buffer uploadBytes(std::span<const std::byte> bytes, const char* label) {
        vk::Buffer b = memory().createBuffer(bytes.size(), vk::MemoryKind::kDevice, label);
        transfer().upload(b, 0, bytes);
        return b;
    }

    // n columns of k random floats, each column under its own power-of-two scale
    // (2^-6 .. 2^6) so that block scales span a range.
    std::vector<float> randomActivations(uint32_t k, uint32_t n) {
        std::vector<float> x = randomFloats(size_t{n} * k);
        std::uniform_int_distribution<int> exponent(-6, 6);
        for (uint32_t c = 0; c < n; ++c) {
            const float scale = std::ldexp(1.0f, exponent(rng_));
            for (uint32_t i = 0; i < k; ++i) x[size_t{c} * k + i] *= scale;
        }
        return x;
    }

    // x_compact (n x k) laid out with x_stride = k + kXPad, NaN in the padding.
    vk::Buffer uploadPadded(const std::vector<float>& x_compact, uint32_t k, uint32_t n) {
        std::vector<float> x(size_t{n} * (k + kXPad), poisonFloat());
        for (uint32_t c = 0; c < n; ++c) std::copy_n(&x_compact[size_t{c} * k], k, &x[size_t{c} * (k + kXPad)]);
        return upload(x, "x");
    }

    // The downloaded q8_1 buffer (plus guard) equals the reference quantizer's blocks,
    // returned as the device wrote them. A code may differ by one where x * (1 / d)
    // lies within 1e-4 of a half-integer: there a last-bit difference of 1 / d (a
    // driver's multiply or reciprocal sequence) flips the rounding; lavapipe matches
    // exactly. d is one multiply (bit-exact); s is d times the sum of the codes written.
    graph::ref::Q8_1 expectQuantized(const std::vector<float>& got, std::span<const float> x,
                                     const graph::ref::Q8_1& ref, uint32_t k, uint32_t n) {
        const size_t blocks = size_t{n} * k / 32;
        graph::ref::Q8_1 dev;
        EXPECT_EQ(got.size(), ops::q8_1Bytes(k, n) / 4 + kGuard);
        if (got.size() != ops::q8_1Bytes(k, n) / 4 + kGuard) return dev;
        dev.codes.resize(size_t{n} * k);
        std::memcpy(dev.codes.data(), got.data(), dev.codes.size());
        for (size_t b = 0; b < blocks; ++b) {
            dev.d.push_back(got[dev.codes.size() / 4 + 2 * b]);
            dev.s.push_back(got[dev.codes.size() / 4 + 2 * b + 1]);
            EXPECT_EQ(bitsOf(dev.d[b]), bitsOf(ref.d[b])) << "d of block " << b;
            int sum = 0;
            for (size_t e = 0; e < 32; ++e) {
                const size_t i = b * 32 + e;
                sum += dev.codes[i];
                if (dev.codes[i] == ref.codes[i]) continue;
                const double scaled = std::abs(double(x[i]) / double(ref.d[b]));
                EXPECT_TRUE(std::abs(dev.codes[i] - ref.codes[i]) == 1 &&
                            std::abs(scaled - std::floor(scaled) - 0.5) < 1e-4)
                    << "code " << i % k << " of column " << i / k << ": " << int(dev.codes[i]) << " vs "
                    << int(ref.codes[i]) << " at x / d = " << scaled;
            }
            EXPECT_EQ(bitsOf(dev.s[b]), bitsOf(dev.d[b] * float(sum))) << "s of block " << b;
        }
        for (size_t i = got.size() - kGuard; i < got.size(); ++i)
            EXPECT_TRUE(isPoison(got[i])) << "quantize wrote past the end";
        return dev;
    }

    // Squared 2-norms of y - y_fp32 and of y_fp32, y_fp32 being the product with the
    // unquantized activations: how far quantizing them moves the result.
    struct Drift {
        double err2 = 0;
        double norm2 = 0;
    };
    // Runs one case; returns its drift.
    Drift runCase(const Case& c);
};

MatMulQ8_1::Drift MatMulQ8_1::runCase(const Case& c) {
    SCOPED_TRACE(c.name());
    const uint32_t y_stride = c.rows + kYPad;
    const uint64_t row_bytes = quant::byteSize(c.dtype, c.k);
    std::vector<std::byte> w(row_bytes * c.rows), up(c.glu ? row_bytes * c.rows : 0);
    quant::quantize(c.dtype, randomFloats(size_t{c.rows} * c.k), w);
    if (c.glu) quant::quantize(c.dtype, randomFloats(size_t{c.rows} * c.k), up);
    const std::vector<float> x = randomActivations(c.k, c.n);
    const std::vector<float> bias = c.bias ? randomFloats(c.rows) : std::vector<float>{};
    // y: n columns of rows floats, y_stride apart; poisoned, or random where accumulated into.
    std::vector<float> y0(size_t{c.n} * y_stride + kGuard, poisonFloat());
    std::vector<float> ref(size_t{c.n} * c.rows);
    if (c.accumulate) {
        ref = randomFloats(ref.size());
        for (uint32_t col = 0; col < c.n; ++col)
            std::copy_n(&ref[size_t{col} * c.rows], c.rows, &y0[size_t{col} * y_stride]);
    }
    std::vector<float> ref_fp32 = ref;

    vk::Buffer gx = uploadPadded(x, c.k, c.n);
    vk::Buffer gq = poisoned(ops::q8_1Bytes(c.k, c.n) / 4 + kGuard, "q8_1 x");
    vk::Buffer gy = upload(y0, "y");
    vk::Buffer gbias = c.bias ? upload(bias, "bias") : vk::Buffer{};
    const std::vector<uint32_t> slabs = c.slabs.empty() ? std::vector<uint32_t>{c.rows} : c.slabs;
    EXPECT_EQ(std::accumulate(slabs.begin(), slabs.end(), 0u), c.rows);
    std::vector<vk::Buffer> gw, gup;
    for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
        gw.push_back(uploadBytes(std::span(w).subspan(row0 * row_bytes, slabs[s] * row_bytes), "w slab"));
        if (c.glu) gup.push_back(uploadBytes(std::span(up).subspan(row0 * row_bytes, slabs[s] * row_bytes), "up slab"));
    }

    runRecorded([&](vk::CommandBuffer& cmd) {
        ops::recordQuantizeQ8_1(ctx(), cmd, vk::wholeRange(gx), c.k + kXPad, c.k, c.n, vk::wholeRange(gq));
        cmd.barrier();
        for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
            ops::MatVecArgs a;
            a.dtype = c.dtype;
            a.k = c.k;
            a.rows = slabs[s];
            a.row0 = row0;
            a.n = c.n;
            a.w = vk::wholeRange(gw[s]);
            if (c.glu) a.up = vk::wholeRange(gup[s]);
            a.y = vk::wholeRange(gy);
            a.y_stride = y_stride;
            if (c.bias) a.bias = vk::wholeRange(gbias);
            a.accumulate = c.accumulate;
            ops::recordMatMulQ8_1(ctx(), cmd, a, vk::wholeRange(gq));
        }
    });
    const graph::ref::Q8_1 xq = expectQuantized(download(gq, ops::q8_1Bytes(c.k, c.n) / 4 + kGuard), x,
                                                graph::ref::quantizeQ8_1(x, c.k, c.n), c.k, c.n);
    if (HasFailure()) return {};
    const std::vector<float> out = download(gy, y0.size());

    const std::vector<float> xd = graph::ref::dequantQ8_1(xq);
    graph::ref::MatMul m;
    m.dtype = c.dtype;
    m.k = c.k;
    m.rows = c.rows;
    m.w = w;
    m.up = up;
    m.bias = bias;
    m.accumulate = c.accumulate;
    graph::ref::matMul(m, xd, c.n, ref);
    graph::ref::matMul(m, x, c.n, ref_fp32);

    // Magnitudes for the tolerance: sum |w * x| (and the values v, u) per row.
    const std::vector<float> wd = graph::ref::dequantRows(c.dtype, w, c.rows, c.k);
    const std::vector<float> ud = c.glu ? graph::ref::dequantRows(c.dtype, up, c.rows, c.k) : std::vector<float>{};
    const double rel_tol = relTol(c.k);
    Drift drift;
    for (uint32_t col = 0; col < c.n; ++col) {
        const float* xc = &xd[size_t{col} * c.k];
        double xabs = 0;
        for (uint32_t i = 0; i < c.k; ++i) xabs += std::fabs(xc[i]);
        for (uint32_t r = 0; r < c.rows; ++r) {
            double sw = 0, v = 0, su = 0, u = 0, wmax = 0, umax = 0;
            for (uint32_t i = 0; i < c.k; ++i) {
                const double wi = wd[size_t{r} * c.k + i];
                wmax = std::max(wmax, std::fabs(wi));
                sw += std::fabs(wi * xc[i]);
                v += wi * xc[i];
                if (c.glu) {
                    const double ui = ud[size_t{r} * c.k + i];
                    umax = std::max(umax, std::fabs(ui));
                    su += std::fabs(ui * xc[i]);
                    u += ui * xc[i];
                }
            }
            if (c.dtype == DType::kQ4_0) {
                sw = std::max(sw, 3 * wmax * xabs);
                su = std::max(su, 3 * umax * xabs);
            }
            if (c.bias) v += bias[r];
            const double expect = ref[size_t{col} * c.rows + r];
            double tol = rel_tol * sw + kFinalTol * (std::fabs(expect) + std::fabs(v)) + 1e-30;
            if (c.glu) {
                // d(silu(v) * u) = silu'(v) u dv + silu(v) du, |silu'| < 1.1.
                tol = rel_tol * (1.1 * sw * std::fabs(u) + std::fabs(silu(v)) * su) +
                      (kSiluTol + kFinalTol) * (std::fabs(expect) + std::fabs(silu(v) * u)) + 1e-30;
            }
            const float got = out[size_t{col} * y_stride + r];
            EXPECT_FALSE(isPoison(got)) << "not written: column " << col << " row " << r;
            EXPECT_NEAR(got, expect, tol) << "column " << col << " row " << r;
            if (HasFailure()) return {};
            const double fp32 = ref_fp32[size_t{col} * c.rows + r];
            drift.err2 += (got - fp32) * (got - fp32);
            drift.norm2 += fp32 * fp32;
        }
        for (uint32_t r = c.rows; r < y_stride; ++r)
            EXPECT_TRUE(isPoison(out[size_t{col} * y_stride + r])) << "wrote padding: column " << col << " at " << r;
    }
    for (size_t i = size_t{c.n} * y_stride; i < out.size(); ++i) EXPECT_TRUE(isPoison(out[i])) << "wrote past the end";
    return drift;
}

bool intDotDevice() {
    return ops::intDotSupported(device().caps(), DType::kQ8_0);
}

// Quantization alone needs no device feature: codes, d and s bit for bit.
TEST_F(MatMulQ8_1, QuantizeMatchesReferenceExactly) {
    for (uint32_t k : {32u, 256u, 1024u}) {
        for (uint32_t n : {1u, 17u, 100u}) {
            SCOPED_TRACE("k " + std::to_string(k) + " n " + std::to_string(n));
            const std::vector<float> x = randomActivations(k, n);
            vk::Buffer gx = uploadPadded(x, k, n);
            const size_t q_floats = ops::q8_1Bytes(k, n) / 4 + kGuard;
            vk::Buffer gq = poisoned(q_floats, "q8_1 x");
            runRecorded([&](vk::CommandBuffer& cmd) {
                ops::recordQuantizeQ8_1(ctx(), cmd, vk::wholeRange(gx), k + kXPad, k, n, vk::wholeRange(gq));
            });
            expectQuantized(download(gq, q_floats), x, graph::ref::quantizeQ8_1(x, k, n), k, n);
            if (HasFailure()) return;
        }
    }
}

// Every shape: rows below, at and past a tile, columns likewise, one to many blocks.
TEST_F(MatMulQ8_1, MatchesReferenceOnOddShapes) {
    if (!intDotDevice()) GTEST_SKIP() << "no integer dot product on " << device().caps().name;
    for (DType dtype : {DType::kQ4_0, DType::kQ8_0}) {
        for (uint32_t k : {32u, 256u, 1024u}) {
            Drift total;
            for (uint32_t rows : {1u, 33u, 130u}) {
                for (uint32_t n : {1u, 17u, 100u}) {
                    const Drift d = runCase({.dtype = dtype, .k = k, .rows = rows, .n = n});
                    if (HasFailure()) return;
                    total.err2 += d.err2;
                    total.norm2 += d.norm2;
                }
            }
            // For the record: how far quantizing the activations moves the product.
            std::printf("%s x q8_1, k %u: |y - y_fp32| / |y_fp32| = %.2e\n", quant::traits(dtype).name, k,
                        std::sqrt(total.err2 / total.norm2));
        }
    }
}

TEST_F(MatMulQ8_1, EpiloguesAndSlabs) {
    if (!intDotDevice()) GTEST_SKIP() << "no integer dot product on " << device().caps().name;
    for (DType dtype : {DType::kQ4_0, DType::kQ8_0}) {
        const Case cases[] = {
            {.dtype = dtype, .k = 256, .rows = 130, .n = 17, .bias = true},
            {.dtype = dtype, .k = 256, .rows = 33, .n = 100, .glu = true},
            {.dtype = dtype, .k = 1024, .rows = 130, .n = 17, .accumulate = true},
            {.dtype = dtype, .k = 256, .rows = 130, .n = 100, .bias = true, .glu = true, .accumulate = true},
            {.dtype = dtype, .k = 256, .rows = 130, .n = 17, .bias = true, .slabs = {70, 60}},
            {.dtype = dtype, .k = 32, .rows = 33, .n = 1, .glu = true, .accumulate = true, .slabs = {1, 32}},
        };
        for (const Case& c : cases) {
            runCase(c);
            if (HasFailure()) return;
        }
    }
}

TEST_F(MatMulQ8_1, UnsupportedIsAClearError) {
    vk::DeviceCaps caps = device().caps();
    caps.integer_dot_product = false;
    EXPECT_FALSE(ops::intDotSupported(caps, DType::kQ4_0));
    try {
        ops::checkIntDotSupport(caps, DType::kQ4_0);
        FAIL() << "no error without integer dot products";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("shaderIntegerDotProduct"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(ops::intDotSupported(device().caps(), DType::kQ4_K));
    EXPECT_THROW(ops::checkIntDotSupport(device().caps(), DType::kQ4_K), Error);
}

}  // namespace
}  // namespace vki::test
