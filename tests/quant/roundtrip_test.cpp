// Quantize -> dequantize on fresh random data of several distributions: per-element
// error bounds for the float and 32-element formats, relative RMSE bounds for the
// K-quants, and re-quantization of decoded data (idempotence).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "quant/quant.hpp"
#include "quant/quant_test_util.hpp"

namespace vki::quant {
namespace {

using test::Distribution;

constexpr size_t kBlocks = 64;  // blocks of the format per test (for K-quants: 16384 elements)

size_t dataBlock(DType type) {
    return std::max<size_t>(traits(type).block_elements, 32);
}

bool isKQuant(DType type) {
    return traits(type).block_elements == 256;
}

// Per-element bound on |x - x'| for the float and 32-element formats. `x` is one
// block of input (n elements, n = 32 for the block formats), `q` its encoded bytes.
// d is the scale the reference quantizer computes in binary32, d_h the f16 value it
// stores; the codes are derived from d, the decoder multiplies by d_h, so each bound
// has a term (largest |code|) * |d - d_h| on top of the rounding error, plus 1e-4 * |d|
// for the binary32 rounding of x * (1 / d).
std::vector<double> elementBounds(DType type, const float* x, size_t n, const std::byte* q) {
    std::vector<double> bound(n);
    double amax = 0.0;
    double signed_max = 0.0;  // first element of largest magnitude, as ggml picks it
    double lo = x[0];
    double hi = x[0];
    for (size_t i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            signed_max = x[i];
        }
        lo = std::min<double>(lo, x[i]);
        hi = std::max<double>(hi, x[i]);
    }
    const auto half = [&](size_t offset) {
        return static_cast<double>(fp16ToFp32(
            static_cast<uint16_t>(static_cast<unsigned>(q[offset]) | static_cast<unsigned>(q[offset + 1]) << 8)));
    };
    for (size_t i = 0; i < n; ++i) {
        const double v = std::fabs(x[i]);
        switch (type) {
            case DType::kF32:
                bound[i] = 0.0;
                break;
            // Half an ulp: 2^-11 relative for normal halves, 2^-25 absolute below 2^-14.
            case DType::kF16:
                bound[i] = std::max(v * 0x1p-11, 0x1p-25);
                break;
            // Half an ulp of an 8-bit significand.
            case DType::kBF16:
                bound[i] = std::max(v * 0x1p-8, 0x1p-134);
                break;
            case DType::kQ8_0: {
                // d = amax / 127; codes round(x / d) never clip: |x - x'| <= d / 2.
                const double d = static_cast<float>(amax) / 127.0f;
                bound[i] = d / 2 + 127 * std::fabs(d - half(0)) + 1e-4 * d;
                break;
            }
            case DType::kQ4_0: {
                // d = max / -8: x / d is in [-8, 8] and codes floor(x / d + 8.5) - 8 are
                // within half a step, except above 7.5 steps (the side opposite max),
                // where code 16 caps to 15: the error is then (x / d - 7) steps, < 1.
                const double d = static_cast<float>(signed_max) / -8.0f;
                const double t = d != 0.0 ? x[i] / d : 0.0;
                bound[i] =
                    std::fabs(d) * (0.5 + std::max(0.0, t - 7.5)) + 8 * std::fabs(d - half(0)) + 1e-4 * std::fabs(d);
                break;
            }
            case DType::kQ4_1: {
                // d = (max - min) / 15, m = min: codes round((x - min) / d) never clip,
                // so |x - x'| <= d / 2, plus the f16 rounding of d and m and the
                // binary32 rounding of q * d + m.
                const double d = static_cast<float>(hi - lo) / 15.0f;
                bound[i] = d / 2 + 15 * std::fabs(d - half(0)) + std::fabs(lo - half(2)) + 1e-4 * d +
                           1e-6 * (std::fabs(lo) + std::fabs(hi));
                break;
            }
            default:
                ADD_FAILURE() << "no element bound for " << traits(type).name;
        }
    }
    return bound;
}

// Relative RMSE of the K-quants, sqrt(sum (x - x')^2 / sum x^2) over one test's data,
// measured over 200 runs of 64 super-blocks each (mean, worst run in parentheses):
//          uniform          gaussian         outliers         block-scale
//   q4_K   0.0541 (0.0548)  0.0705 (0.0717)  0.1031 (0.1070)  0.0706 (0.0740)
//   q5_K   0.0265 (0.0268)  0.0345 (0.0351)  0.0511 (0.0532)  0.0345 (0.0364)
//   q6_K   0.0130 (0.0131)  0.0175 (0.0179)  0.0321 (0.0331)  0.0175 (0.0184)
// The bounds add 10-15% to the worst run. Every single super-block stays within 1.5x the
// bound (measured worst: 1.05-1.3x).
double kQuantRmseBound(DType type, Distribution dist) {
    const bool outliers = dist == Distribution::kOutliers;
    switch (type) {
        case DType::kQ4_K:
            return outliers ? 0.12 : 0.082;
        case DType::kQ5_K:
            return outliers ? 0.06 : 0.041;
        case DType::kQ6_K:
            return outliers ? 0.038 : 0.021;
        default:
            return 0.0;
    }
}

// Largest |code| of a K-quant (q - 32 for Q6_K).
int kQuantMaxCode(DType type) {
    return type == DType::kQ4_K ? 15 : type == DType::kQ5_K ? 31 : 32;
}

double sumSquares(const float* a, const float* b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double diff = static_cast<double>(a[i]) - (b ? b[i] : 0.0f);
        s += diff * diff;
    }
    return s;
}

using Case = std::tuple<DType, Distribution>;

class QuantRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(QuantRoundTrip, ErrorWithinBound) {
    const auto [type, dist] = GetParam();
    const uint32_t seed = test::freshSeed();
    SCOPED_TRACE(test::seedTrace(seed));
    std::mt19937 rng(seed);
    const size_t block = dataBlock(type);
    const std::vector<float> x = test::generate(dist, kBlocks, block, rng);
    const std::vector<std::byte> q = test::quantized(type, x);
    const std::vector<float> y = test::dequantized(type, q, x.size());

    if (dist == Distribution::kZero) {
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], 0.0f) << "element " << i;
        return;
    }
    if (!isKQuant(type)) {
        const size_t elements = traits(type).block_elements;
        for (size_t b = 0; b < x.size() / elements; ++b) {
            const float* xb = x.data() + b * elements;
            const std::vector<double> bound =
                elementBounds(type, xb, elements, q.data() + b * traits(type).block_bytes);
            for (size_t i = 0; i < elements; ++i) {
                ASSERT_LE(std::fabs(static_cast<double>(xb[i]) - y[b * elements + i]), bound[i])
                    << "block " << b << " element " << i << ": x = " << xb[i] << ", x' = " << y[b * elements + i];
            }
        }
        return;
    }
    if (dist == Distribution::kAllEqual) {
        // A constant loses only the f16 rounding of the super-scale and the rounding of
        // its 6-bit (Q6_K: 8-bit) sub-scale, <= 2^-6 relative; when the super-scale is a
        // tiny subnormal (|x| below ~1e-4) values move in steps of 2^-24 times a sub-scale,
        // so the error may instead reach that step times the largest code. Measured
        // worst: 0.008 relative for |x| > 1e-3, 0.035 relative at |x| = 1e-5.
        const double floor = 0x1p-24 * kQuantMaxCode(type);
        for (size_t i = 0; i < x.size(); ++i) {
            ASSERT_LE(std::fabs(x[i] - y[i]), std::fabs(x[i]) * 0x1p-6 + floor) << "element " << i << ": x = " << x[i];
        }
        return;
    }
    const double bound = kQuantRmseBound(type, dist);
    const double rel = std::sqrt(sumSquares(x.data(), y.data(), x.size()) / sumSquares(x.data(), nullptr, x.size()));
    RecordProperty("relative_rmse", std::to_string(rel));
    EXPECT_LE(rel, bound);
    for (size_t b = 0; b < kBlocks; ++b) {
        const float* xb = x.data() + b * block;
        const double block_rel =
            std::sqrt(sumSquares(xb, y.data() + b * block, block) / sumSquares(xb, nullptr, block));
        EXPECT_LE(block_rel, 1.5 * bound) << "super-block " << b;
    }
}

// Absolute resolution of K-quant values when the f16 super-scale is subnormal (blocks
// with a range below ~0.1): one f16 step, 2^-24, times the largest sub-scale and code.
double kQuantFloor(DType type) {
    switch (type) {
        case DType::kQ4_K:
            return 0x1p-24 * 63 * 15;
        case DType::kQ5_K:
            return 0x1p-24 * 63 * 31;
        case DType::kQ6_K:
            return 0x1p-24 * 128 * 32;
        default:
            return 0.0;
    }
}

double rms(const float* a, const float* b, size_t n) {
    return std::sqrt(sumSquares(a, b, n) / static_cast<double>(n));
}

// y = dequantize(quantize(x)) is what the format can represent; quantizing y again must
// give y back. Exact for the float formats and the 32-element formats: their scale is
// recovered exactly from y (e.g. q8_0: amax(y) = 127 * d_h, so d' = d_h) and every code
// then reproduces. For the K-quants the two-level scale search need not find the same
// sub-scales again; stated tolerances, with measured worst values over 1000 runs:
//   per test:        RMS(z - y) <= 0.3 * RMS(y - x)                           (measured <= 0.22)
//   per super-block: RMS(z - y) <= 0.75 * RMS(y - x) + 2^-8 * RMS(y) + floor  (measured <= 0.6 * RMS(y - x)
//                    away from subnormal super-scales; floor = kQuantFloor)
//   no drift:        RMS(z - x) <= 1.05 * RMS(y - x)                           (measured <= 1.021)
TEST_P(QuantRoundTrip, RequantizingDecodedDataIsStable) {
    const auto [type, dist] = GetParam();
    const uint32_t seed = test::freshSeed();
    SCOPED_TRACE(test::seedTrace(seed));
    std::mt19937 rng(seed);
    const size_t block = dataBlock(type);
    const std::vector<float> x = test::generate(dist, kBlocks, block, rng);
    const std::vector<float> y = test::roundTrip(type, x);
    const std::vector<float> z = test::roundTrip(type, y);

    if (!isKQuant(type)) {
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(z[i], y[i]) << "element " << i << ": x = " << x[i];
        return;
    }
    const double first = rms(x.data(), y.data(), x.size());
    EXPECT_LE(rms(z.data(), y.data(), z.size()), 0.3 * first);
    EXPECT_LE(rms(z.data(), x.data(), z.size()), 1.05 * first);
    for (size_t b = 0; b < kBlocks; ++b) {
        const size_t o = b * block;
        const double allowed = 0.75 * rms(x.data() + o, y.data() + o, block) +
                               0x1p-8 * rms(y.data() + o, nullptr, block) + kQuantFloor(type);
        EXPECT_LE(rms(z.data() + o, y.data() + o, block), allowed) << "super-block " << b;
    }
}

std::vector<Case> allCases() {
    std::vector<Case> cases;
    for (DType type : kAllDTypes) {
        if (!traits(type).quantizable) continue;
        for (Distribution dist : test::kAllDistributions) cases.emplace_back(type, dist);
    }
    return cases;
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
    std::string name =
        std::string(traits(std::get<0>(info.param)).name) + "_" + test::distributionName(std::get<1>(info.param));
    for (char& c : name) {
        if (c == '-') c = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(AllFormats, QuantRoundTrip, ::testing::ValuesIn(allCases()), caseName);

}  // namespace
}  // namespace vki::quant
