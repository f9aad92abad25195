#include "support/weight_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "graph/reference_ops.hpp"

namespace vki::test {

using quant::DType;

namespace {

constexpr double kFinalTol = 1e-6;
constexpr double kSiluTol = 1e-5;

// Formats whose weights are scale * code + offset (see SumTolerance).
bool hasOffset(DType dtype) {
    return dtype == DType::kQ4_1 || dtype == DType::kQ5_1 || dtype == DType::kQ4_K || dtype == DType::kQ5_K;
}

double silu(double v) {
    return v / (1.0 + std::exp(-v));
}

}  // namespace

bool isPoison(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits == kPoison;
}

float poisonFloat() {
    float f;
    std::memcpy(&f, &kPoison, 4);
    return f;
}

std::string MatMulCase::name() const {
    std::string s = std::string(quant::traits(dtype).name) + " k " + std::to_string(k) + " rows " +
                    std::to_string(rows) + " n " + std::to_string(n);
    if (norm) s += " norm";
    if (bias) s += " bias";
    if (glu) s += " glu";
    if (accumulate) s += " accumulate";
    if (!slabs.empty()) s += " slabs " + std::to_string(slabs.size());
    return s;
}

std::vector<uint32_t> rowLengths(DType dtype) {
    const uint32_t block = quant::traits(dtype).block_elements;
    if (block == 1) return {1, 32, 67, 200};
    if (block == 32) return {32, 160};
    return {256, 768};
}

std::vector<std::byte> WeightOpTest::randomWeights(DType dtype, uint32_t rows, uint32_t k) {
    std::vector<std::byte> bytes(quant::byteSize(dtype, uint64_t{rows} * k));
    if (dtype == DType::kQ5_0 || dtype == DType::kQ5_1) {
        std::uniform_int_distribution<int> byte(0, 255);
        for (auto& b : bytes) b = static_cast<std::byte>(byte(rng_));
        const size_t block_bytes = quant::traits(dtype).block_bytes;
        const auto scales = randomFloats(2 * bytes.size() / block_bytes, -0.1f, 0.1f);
        for (size_t b = 0, i = 0; b < bytes.size(); b += block_bytes) {
            for (int field = 0; field < (dtype == DType::kQ5_1 ? 2 : 1); ++field) {
                const uint16_t h = quant::fp32ToFp16(scales[i++]);
                bytes[b + 2 * field] = static_cast<std::byte>(h & 0xFF);
                bytes[b + 2 * field + 1] = static_cast<std::byte>(h >> 8);
            }
        }
    } else {
        quant::quantize(dtype, randomFloats(size_t{rows} * k), bytes);
    }
    return bytes;
}

vk::Buffer WeightOpTest::uploadBytes(std::span<const std::byte> bytes, const char* label) {
    vk::Buffer b = memory().createBuffer(bytes.size(), vk::MemoryKind::kDevice, label);
    transfer().upload(b, 0, bytes);
    return b;
}

void WeightOpTest::runProduct(const MatMulCase& c, RecordProduct record, SumTolerance tol) {
    SCOPED_TRACE(c.name());
    const uint32_t x_stride = c.k + kXPad;
    const uint32_t y_stride = c.rows + kYPad;
    const uint64_t row_bytes = quant::byteSize(c.dtype, c.k);

    const std::vector<std::byte> w = randomWeights(c.dtype, c.rows, c.k);
    const std::vector<std::byte> up = c.glu ? randomWeights(c.dtype, c.rows, c.k) : std::vector<std::byte>{};
    // x: n columns of k floats, x_stride apart, NaN in between; x_compact: the reference's n x k.
    const std::vector<float> x_compact = randomFloats(size_t{c.n} * c.k);
    std::vector<float> x(size_t{c.n} * x_stride, poisonFloat());
    for (uint32_t col = 0; col < c.n; ++col)
        std::copy_n(&x_compact[size_t{col} * c.k], c.k, &x[size_t{col} * x_stride]);
    const std::vector<float> norm = c.norm ? randomFloats(c.k, 0.5f, 1.5f) : std::vector<float>{};
    const std::vector<float> bias = c.bias ? randomFloats(c.rows) : std::vector<float>{};
    // y: n columns of rows floats, y_stride apart; poisoned, or random where accumulated into.
    std::vector<float> y0(size_t{c.n} * y_stride + kGuard, poisonFloat());
    std::vector<float> ref(size_t{c.n} * c.rows);
    if (c.accumulate) {
        ref = randomFloats(ref.size());
        for (uint32_t col = 0; col < c.n; ++col)
            std::copy_n(&ref[size_t{col} * c.rows], c.rows, &y0[size_t{col} * y_stride]);
    }

    vk::Buffer gx = upload(x, "x");
    vk::Buffer gy = upload(y0, "y");
    vk::Buffer gnorm = c.norm ? upload(norm, "norm") : vk::Buffer{};
    vk::Buffer gbias = c.bias ? upload(bias, "bias") : vk::Buffer{};
    std::vector<uint32_t> slabs = c.slabs.empty() ? std::vector<uint32_t>{c.rows} : c.slabs;
    ASSERT_EQ(std::accumulate(slabs.begin(), slabs.end(), 0u), c.rows);
    std::vector<vk::Buffer> gw, gup;
    for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
        gw.push_back(uploadBytes(std::span(w).subspan(row0 * row_bytes, slabs[s] * row_bytes), "w slab"));
        if (c.glu) gup.push_back(uploadBytes(std::span(up).subspan(row0 * row_bytes, slabs[s] * row_bytes), "up slab"));
    }

    runRecorded([&](vk::CommandBuffer& cmd) {
        for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
            ops::MatVecArgs a;
            a.dtype = c.dtype;
            a.k = c.k;
            a.rows = slabs[s];
            a.row0 = row0;
            a.n = c.n;
            a.w = vk::wholeRange(gw[s]);
            if (c.glu) a.up = vk::wholeRange(gup[s]);
            a.x = vk::wholeRange(gx);
            a.x_stride = x_stride;
            a.y = vk::wholeRange(gy);
            a.y_stride = y_stride;
            if (c.norm) a.norm = vk::wholeRange(gnorm);
            a.eps = 1e-5f;
            if (c.bias) a.bias = vk::wholeRange(gbias);
            a.accumulate = c.accumulate;
            record(ctx(), cmd, a);
        }
    });
    const std::vector<float> out = download(gy, y0.size());

    graph::ref::MatMul m;
    m.dtype = c.dtype;
    m.k = c.k;
    m.rows = c.rows;
    m.w = w;
    m.up = up;
    m.norm = norm;
    m.eps = 1e-5f;
    m.bias = bias;
    m.accumulate = c.accumulate;
    graph::ref::matMul(m, x_compact, c.n, ref);

    // Magnitudes for the tolerance: sum |w * x'| (and the values v, u) per row.
    const std::vector<float> wd = graph::ref::dequantRows(c.dtype, w, c.rows, c.k);
    const std::vector<float> ud = c.glu ? graph::ref::dequantRows(c.dtype, up, c.rows, c.k) : std::vector<float>{};
    std::vector<float> xn(c.k);
    for (uint32_t col = 0; col < c.n; ++col) {
        const auto xc = std::span(x_compact).subspan(size_t{col} * c.k, c.k);
        if (c.norm) {
            graph::ref::rmsNorm(xc, norm, 1e-5f, xn);
        } else {
            std::copy(xc.begin(), xc.end(), xn.begin());
        }
        for (uint32_t r = 0; r < c.rows; ++r) {
            double sw = 0, v = 0, su = 0, u = 0, wmax = 0, umax = 0, xabs = 0;
            for (uint32_t i = 0; i < c.k; ++i) {
                xabs += std::fabs(xn[i]);
                wmax = std::max(wmax, std::fabs(double{wd[size_t{r} * c.k + i]}));
                if (c.glu) umax = std::max(umax, std::fabs(double{ud[size_t{r} * c.k + i]}));
                sw += std::fabs(double{wd[size_t{r} * c.k + i]} * xn[i]);
                v += double{wd[size_t{r} * c.k + i]} * xn[i];
                if (c.glu) {
                    su += std::fabs(double{ud[size_t{r} * c.k + i]} * xn[i]);
                    u += double{ud[size_t{r} * c.k + i]} * xn[i];
                }
            }
            if (tol.factored_offsets && hasOffset(c.dtype)) {
                sw = std::max(sw, 3 * wmax * xabs);
                su = std::max(su, 3 * umax * xabs);
            }
            if (c.bias) v += bias[r];
            const double expect = ref[size_t{col} * c.rows + r];
            double t = tol.relative * sw + kFinalTol * (std::fabs(expect) + std::fabs(v)) + 1e-30;
            if (c.glu) {
                // d(silu(v) * u) = silu'(v) u dv + silu(v) du, |silu'| < 1.1.
                t = tol.relative * (1.1 * sw * std::fabs(u) + std::fabs(silu(v)) * su) +
                    (kSiluTol + kFinalTol) * (std::fabs(expect) + std::fabs(silu(v) * u)) + 1e-30;
            }
            const float got = out[size_t{col} * y_stride + r];
            ASSERT_FALSE(isPoison(got)) << "not written: column " << col << " row " << r;
            ASSERT_NEAR(got, expect, t) << "column " << col << " row " << r;
        }
        for (uint32_t r = c.rows; r < y_stride; ++r)
            ASSERT_TRUE(isPoison(out[size_t{col} * y_stride + r])) << "wrote padding: column " << col << " at " << r;
    }
    for (size_t i = size_t{c.n} * y_stride; i < out.size(); ++i) ASSERT_TRUE(isPoison(out[i])) << "wrote past the end";
}

}  // namespace vki::test
