// IEEE binary16 and bfloat16 conversions: exhaustive round trips, ties to even, and
// nearest rounding checked against the neighbouring representable values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "quant/quant.hpp"
#include "quant/quant_test_util.hpp"

namespace vki::quant {
namespace {

bool isHalfNaN(uint16_t h) {
    return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
}
float bits(uint32_t u) {
    return std::bit_cast<float>(u);
}

TEST(Fp16, EveryHalfRoundTripsThroughFloat) {
    for (uint32_t i = 0; i <= 0xFFFF; ++i) {
        const uint16_t h = static_cast<uint16_t>(i);
        const float f = fp16ToFp32(h);
        if (isHalfNaN(h)) {
            ASSERT_TRUE(std::isnan(f)) << std::hex << i;
            const uint16_t back = fp32ToFp16(f);
            ASSERT_TRUE(isHalfNaN(back)) << std::hex << i << " -> " << back;
            ASSERT_EQ(back & 0x8000u, h & 0x8000u) << "NaN keeps its sign";
        } else {
            ASSERT_EQ(fp32ToFp16(f), h) << std::hex << i << " decoded to " << f;
        }
    }
}

TEST(Fp16, DecodesKnownValues) {
    EXPECT_EQ(fp16ToFp32(0x3C00), 1.0f);
    EXPECT_EQ(fp16ToFp32(0xC000), -2.0f);
    EXPECT_EQ(fp16ToFp32(0x3555), 0.333251953125f);
    EXPECT_EQ(fp16ToFp32(0x7BFF), 65504.0f);            // largest finite
    EXPECT_EQ(fp16ToFp32(0x0400), 0x1p-14f);            // smallest normal
    EXPECT_EQ(fp16ToFp32(0x03FF), 1023.0f * 0x1p-24f);  // largest subnormal
    EXPECT_EQ(fp16ToFp32(0x0001), 0x1p-24f);            // smallest subnormal
    EXPECT_EQ(fp16ToFp32(0x8001), -0x1p-24f);
    EXPECT_EQ(fp16ToFp32(0x7C00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(fp16ToFp32(0xFC00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::signbit(fp16ToFp32(0x8000)));
    EXPECT_EQ(fp16ToFp32(0x8000), 0.0f);
}

TEST(Fp16, RoundsTiesToEven) {
    // 1 + 2^-11 lies halfway between 1 (0x3C00, even) and 1 + 2^-10 (0x3C01).
    EXPECT_EQ(fp32ToFp16(1.0f + 0x1p-11f), 0x3C00);
    // 1 + 3 * 2^-11 lies halfway between 0x3C01 and 0x3C02 (even).
    EXPECT_EQ(fp32ToFp16(1.0f + 3 * 0x1p-11f), 0x3C02);
    // Just above a tie rounds up, just below rounds down.
    EXPECT_EQ(fp32ToFp16(std::nextafter(1.0f + 0x1p-11f, 2.0f)), 0x3C01);
    EXPECT_EQ(fp32ToFp16(std::nextafter(1.0f + 3 * 0x1p-11f, 0.0f)), 0x3C01);
    EXPECT_EQ(fp32ToFp16(-(1.0f + 3 * 0x1p-11f)), 0xBC02);
    // 65520 is halfway between 65504 (0x7BFF, odd) and 2^16 (0x7C00 = infinity, even).
    EXPECT_EQ(fp32ToFp16(65520.0f), 0x7C00);
    EXPECT_EQ(fp32ToFp16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
    EXPECT_EQ(fp32ToFp16(-65520.0f), 0xFC00);
    // Subnormal ties: 2^-25 is halfway between 0 and 0x0001; 3 * 2^-25 between 0x0001 and 0x0002.
    EXPECT_EQ(fp32ToFp16(0x1p-25f), 0x0000);
    EXPECT_EQ(fp32ToFp16(3 * 0x1p-25f), 0x0002);
    EXPECT_EQ(fp32ToFp16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
    // Rounding up out of the subnormals gives the smallest normal.
    EXPECT_EQ(fp32ToFp16(0x1p-14f - 0x1p-26f), 0x0400);
}

TEST(Fp16, EncodesSpecialValues) {
    EXPECT_EQ(fp32ToFp16(0.0f), 0x0000);
    EXPECT_EQ(fp32ToFp16(-0.0f), 0x8000);
    EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::infinity()), 0x7C00);
    EXPECT_EQ(fp32ToFp16(-std::numeric_limits<float>::infinity()), 0xFC00);
    EXPECT_EQ(fp32ToFp16(1e10f), 0x7C00);
    EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::max()), 0x7C00);
    EXPECT_EQ(fp32ToFp16(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(fp32ToFp16(-std::numeric_limits<float>::min()), 0x8000);
    // A NaN whose payload lives only in the low bits must not truncate to infinity.
    EXPECT_TRUE(isHalfNaN(fp32ToFp16(bits(0x7F800001u))));
    EXPECT_TRUE(isHalfNaN(fp32ToFp16(bits(0xFFC00000u))));
    EXPECT_EQ(fp32ToFp16(bits(0xFFC00000u)) & 0x8000u, 0x8000u);
}

// The result of encoding f must be at least as close to f as both of its neighbours,
// and on an exact tie it must be the even one.
void expectNearestHalf(float f) {
    const uint16_t h = fp32ToFp16(f);
    const double r = fp16ToFp32(h);
    const double x = f;
    const uint16_t magnitude = h & 0x7FFFu;
    if (magnitude == 0x7C00u) {
        ASSERT_GE(std::fabs(x), 65520.0) << f;
        return;
    }
    const double err = std::fabs(x - r);
    if (magnitude == 0x7BFFu) {
        ASSERT_LT(std::fabs(x), 65520.0) << f;
    } else {
        const double up = fp16ToFp32(static_cast<uint16_t>(h + 1));  // next magnitude up, same sign
        ASSERT_LE(err, std::fabs(x - up)) << f;
        if (err == std::fabs(x - up)) {
            ASSERT_EQ(h & 1u, 0u) << "tie not to even at " << f;
        }
    }
    if (magnitude != 0) {
        const double down = fp16ToFp32(static_cast<uint16_t>(h - 1));
        ASSERT_LE(err, std::fabs(x - down)) << f;
        if (err == std::fabs(x - down)) {
            ASSERT_EQ(h & 1u, 0u) << "tie not to even at " << f;
        }
    }
}

TEST(Fp16, EveryMidpointAndItsNeighboursRoundCorrectly) {
    // Midpoints between consecutive finite halves (exact in binary32), and the floats
    // just either side of each: this covers every tie and every rounding boundary.
    for (uint32_t i = 0; i < 0x7BFF; ++i) {
        for (const float sign : {1.0f, -1.0f}) {
            const float lo = fp16ToFp32(static_cast<uint16_t>(i));
            const float hi = fp16ToFp32(static_cast<uint16_t>(i + 1));
            const float mid = sign * (lo + (hi - lo) / 2);
            ASSERT_NO_FATAL_FAILURE(expectNearestHalf(mid));
            ASSERT_NO_FATAL_FAILURE(expectNearestHalf(std::nextafter(mid, 0.0f)));
            ASSERT_NO_FATAL_FAILURE(expectNearestHalf(std::nextafter(mid, sign * 1e9f)));
        }
    }
    ASSERT_NO_FATAL_FAILURE(expectNearestHalf(65520.0f));
    ASSERT_NO_FATAL_FAILURE(expectNearestHalf(std::nextafter(65520.0f, 0.0f)));
}

TEST(Fp16, RandomFloatsRoundToNearest) {
    const uint32_t seed = test::freshSeed();
    SCOPED_TRACE(test::seedTrace(seed));
    std::mt19937 rng(seed);
    for (int i = 0; i < 1000000; ++i) {
        float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
        if (!std::isfinite(f)) continue;
        if (i % 2) {
            // Same significand and sign, exponent moved into the half's range (2^-26 .. 2^16).
            int exponent = 0;
            f = std::ldexp(std::frexp(f, &exponent), static_cast<int>(rng() % 42) - 25);
        }
        ASSERT_NO_FATAL_FAILURE(expectNearestHalf(f));
    }
}

TEST(Bf16, EveryBf16RoundTripsThroughFloat) {
    for (uint32_t i = 0; i <= 0xFFFF; ++i) {
        const uint16_t b = static_cast<uint16_t>(i);
        const float f = bf16ToFp32(b);
        if (std::isnan(f)) {
            const uint16_t back = fp32ToBf16(f);
            ASSERT_TRUE(std::isnan(bf16ToFp32(back))) << std::hex << i;
            ASSERT_EQ(back & 0x8000u, b & 0x8000u);
        } else {
            ASSERT_EQ(fp32ToBf16(f), b) << std::hex << i;
        }
    }
}

TEST(Bf16, RoundsTiesToEven) {
    EXPECT_EQ(fp32ToBf16(1.0f), 0x3F80);
    EXPECT_EQ(fp32ToBf16(bits(0x3F808000u)), 0x3F80);  // halfway 0x3F80 / 0x3F81: to even
    EXPECT_EQ(fp32ToBf16(bits(0x3F818000u)), 0x3F82);  // halfway 0x3F81 / 0x3F82: to even
    EXPECT_EQ(fp32ToBf16(bits(0x3F808001u)), 0x3F81);  // just above halfway
    EXPECT_EQ(fp32ToBf16(bits(0x3F817FFFu)), 0x3F81);  // just below halfway
    EXPECT_EQ(fp32ToBf16(bits(0xBF818000u)), 0xBF82);
    EXPECT_EQ(fp32ToBf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the largest bf16
    EXPECT_EQ(fp32ToBf16(bits(0x00008000u)), 0x0000);                  // subnormal tie to even (zero)
    EXPECT_EQ(fp32ToBf16(bits(0x00018000u)), 0x0002);
}

TEST(Bf16, NaNStaysNaN) {
    EXPECT_TRUE(std::isnan(bf16ToFp32(fp32ToBf16(bits(0x7F800001u)))));  // payload only in the dropped bits
    EXPECT_TRUE(std::isnan(bf16ToFp32(fp32ToBf16(bits(0xFF800001u)))));
    EXPECT_TRUE(std::isnan(bf16ToFp32(fp32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
    EXPECT_EQ(fp32ToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
    EXPECT_EQ(fp32ToBf16(-std::numeric_limits<float>::infinity()), 0xFF80);
}

}  // namespace
}  // namespace vki::quant
