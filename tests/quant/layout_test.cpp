// Hand-built blocks with known bytes decode to values worked out by hand from ggml's
// layouts (ggml-common.h, dequantize_row_* in ggml-quants.c), so a layout or nibble
// order mistake shows up here even if quantize and dequantize agree with each other.
// f16 constants used below: 0x3C00 = 1.0, 0x3800 = 0.5, 0x3400 = 0.25, 0xBC00 = -1.0,
// 0x4000 = 2.0; stored little-endian, so 0x3800 is the bytes 00 38.
#include <gtest/gtest.h>

#include <vector>

#include "quant/quant.hpp"
#include "quant/quant_test_util.hpp"

namespace vki::quant {
namespace {

using test::bytesOf;
using test::dequantized;
using test::quantized;

// qs bytes j | (15 - j) << 4 for j = 0..15: low nibbles 0..15, high nibbles 15..0.
const std::vector<std::byte> kRampNibbles =
    bytesOf({0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5, 0x96, 0x87, 0x78, 0x69, 0x5A, 0x4B, 0x3C, 0x2D, 0x1E, 0x0F});

std::vector<std::byte> concat(std::vector<std::byte> a, const std::vector<std::byte>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(QuantLayout, FloatTypesAreLittleEndian) {
    EXPECT_EQ(dequantized(DType::kF32, bytesOf({0x00, 0x00, 0xC0, 0x3F}), 1)[0], 1.5f);
    EXPECT_EQ(dequantized(DType::kF16, bytesOf({0x00, 0xC0, 0x00, 0x3C}), 2), (std::vector<float>{-2.0f, 1.0f}));
    EXPECT_EQ(dequantized(DType::kBF16, bytesOf({0x80, 0x3F, 0x40, 0xC0}), 2), (std::vector<float>{1.0f, -3.0f}));
    EXPECT_EQ(quantized(DType::kF32, {1.5f}), bytesOf({0x00, 0x00, 0xC0, 0x3F}));
    EXPECT_EQ(quantized(DType::kF16, {-2.0f, 1.0f}), bytesOf({0x00, 0xC0, 0x00, 0x3C}));
    EXPECT_EQ(quantized(DType::kBF16, {1.0f, -3.0f}), bytesOf({0x80, 0x3F, 0x40, 0xC0}));
}

TEST(QuantLayout, Q4_0) {
    // d = 0.5; x = (q - 8) * d. Element j < 16 is the low nibble of byte j (q = j),
    // element 16 + j the high nibble (q = 15 - j).
    const auto block = concat(bytesOf({0x00, 0x38}), kRampNibbles);
    const std::vector<float> expected = {-4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5,  //
                                         0.0,  0.5,  1.0,  1.5,  2.0,  2.5,  3.0,  3.5,   //
                                         3.5,  3.0,  2.5,  2.0,  1.5,  1.0,  0.5,  0.0,   //
                                         -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -3.5, -4.0};
    EXPECT_EQ(dequantized(DType::kQ4_0, block, 32), expected);
}

TEST(QuantLayout, Q4_1) {
    // d = 0.25, m = -1.0; x = q * d + m.
    const auto block = concat(bytesOf({0x00, 0x34, 0x00, 0xBC}), kRampNibbles);
    const std::vector<float> expected = {-1.0, -0.75, -0.5, -0.25, 0.0,   0.25, 0.5,   0.75,  //
                                         1.0,  1.25,  1.5,  1.75,  2.0,   2.25, 2.5,   2.75,  //
                                         2.75, 2.5,   2.25, 2.0,   1.75,  1.5,  1.25,  1.0,   //
                                         0.75, 0.5,   0.25, 0.0,   -0.25, -0.5, -0.75, -1.0};
    EXPECT_EQ(dequantized(DType::kQ4_1, block, 32), expected);
}

// qh bytes 01 80 02 40 are the little-endian u32 0x40028001: bits 0, 15, 17 and 30, so
// elements 0, 15, 17 and 30 get bit 4 of their code.
const std::vector<std::byte> kHighBits = bytesOf({0x01, 0x80, 0x02, 0x40});

TEST(QuantLayout, Q5_0) {
    // d = 1.0; x = q - 16. Low nibbles as in Q4_0: element j -> j, element 16 + j -> 15 - j.
    //   e0: 0|16 = 16 -> 0;   e1..e14: j -> j - 16;   e15: 15|16 = 31 -> 15
    //   e16: 15 -> -1;   e17: 14|16 = 30 -> 14;   e18..e29: 15 - j -> -1 - j;   e30: 1|16 -> 1;   e31: 0 -> -16
    const auto block = concat(concat(bytesOf({0x00, 0x3C}), kHighBits), kRampNibbles);
    const std::vector<float> expected = {0,  -15, -14, -13, -12, -11, -10, -9, -8, -7,  -6,  -5,  -4,  -3,  -2, 15,
                                         -1, 14,  -3,  -4,  -5,  -6,  -7,  -8, -9, -10, -11, -12, -13, -14, 1,  -16};
    EXPECT_EQ(dequantized(DType::kQ5_0, block, 32), expected);
}

TEST(QuantLayout, Q5_1) {
    // d = 0.5, m = 2.0; x = q * 0.5 + 2 with the same codes as the Q5_0 case:
    //   e0: 16 -> 10;  e1..e14: j -> 2.5..9;  e15: 31 -> 17.5;  e16: 15 -> 9.5;  e17: 30 -> 17;
    //   e18..e29: 13..2 -> 8.5..3;  e30: 17 -> 10.5;  e31: 0 -> 2
    const auto block = concat(concat(bytesOf({0x00, 0x38, 0x00, 0x40}), kHighBits), kRampNibbles);
    const std::vector<float> expected = {10, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5,  9, 17.5, 9.5,
                                         17, 8.5, 8, 7.5, 7, 6.5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 10.5, 2};
    EXPECT_EQ(dequantized(DType::kQ5_1, block, 32), expected);
}

TEST(QuantLayout, Q8_0) {
    // d = 0.25; qs[k] = k - 16 as int8 (0xF0 = -16), except qs[30] = 0x7F (127) and qs[31] = 0x80 (-128).
    std::vector<std::byte> block = bytesOf({0x00, 0x34});
    for (int k = 0; k < 30; ++k) block.push_back(static_cast<std::byte>(static_cast<uint8_t>(k - 16)));
    block.push_back(std::byte{0x7F});
    block.push_back(std::byte{0x80});
    const std::vector<float> x = dequantized(DType::kQ8_0, block, 32);
    EXPECT_EQ(x[0], -4.0f);
    EXPECT_EQ(x[15], -0.25f);
    EXPECT_EQ(x[16], 0.0f);
    EXPECT_EQ(x[29], 3.25f);
    EXPECT_EQ(x[30], 31.75f);
    EXPECT_EQ(x[31], -32.0f);
}

TEST(QuantLayout, BlocksFollowEachOther) {
    // Two Q4_0 blocks: the second has d = 1.0 and all nibbles 0x9 (q = 9 -> +1).
    auto two = concat(bytesOf({0x00, 0x38}), kRampNibbles);
    two = concat(two, bytesOf({0x00, 0x3C}));
    for (int i = 0; i < 16; ++i) two.push_back(std::byte{0x99});
    const std::vector<float> x = dequantized(DType::kQ4_0, two, 64);
    EXPECT_EQ(x[0], -4.0f);
    EXPECT_EQ(x[31], -4.0f);
    for (int i = 32; i < 64; ++i) EXPECT_EQ(x[i], 1.0f) << i;
}

// Q4_K / Q5_K scales for the cases below: sc = {1, 2, 3, 4, 33, 34, 63, 17},
// mn = {0, 1, 2, 3, 40, 5, 6, 63}, packed by hand:
//   bytes 0..3  = sc[0..3] | (sc[4..7] >> 4) << 6 = 1|2<<6, 2|2<<6, 3|3<<6, 4|1<<6 = 81 82 C3 44
//   bytes 4..7  = mn[0..3] | (mn[4..7] >> 4) << 6 = 0|2<<6, 1|0, 2|0, 3|3<<6     = 80 01 02 C3
//   bytes 8..11 = (sc[4..7] & 15) | (mn[4..7] & 15) << 4 = 1|8<<4, 2|5<<4, 15|6<<4, 1|15<<4 = 81 52 6F F1
const std::vector<std::byte> kKScales =
    bytesOf({0x81, 0x82, 0xC3, 0x44, 0x80, 0x01, 0x02, 0xC3, 0x81, 0x52, 0x6F, 0xF1});

// 128 qs bytes with qs[i] = i: byte 32g + l has low nibble l & 15 and high nibble 2g + l / 16.
std::vector<std::byte> identityBytes(size_t n) {
    std::vector<std::byte> bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<std::byte>(i));
    return bytes;
}

TEST(QuantLayout, Q4_K) {
    // d = 1.0, dmin = 0.5; element 64g + l (l < 32) is the low nibble of qs[32g + l] in
    // sub-block 2g, element 64g + 32 + l the high nibble, sub-block 2g + 1;
    // x = d * sc[s] * q - dmin * mn[s].
    const auto block = concat(concat(bytesOf({0x00, 0x3C, 0x00, 0x38}), kKScales), identityBytes(128));
    const std::vector<float> x = dequantized(DType::kQ4_K, block, 256);
    EXPECT_EQ(x[0], 0.0f);      // s0, q = 0:            1*0 - 0
    EXPECT_EQ(x[5], 5.0f);      // s0, q = 5:            1*5 - 0
    EXPECT_EQ(x[31], 15.0f);    // s0, byte 31 low = 15: 1*15
    EXPECT_EQ(x[32], -0.5f);    // s1, byte 0 high = 0:  2*0 - 0.5*1
    EXPECT_EQ(x[63], 1.5f);     // s1, byte 31 high = 1: 2*1 - 0.5
    EXPECT_EQ(x[64], -1.0f);    // s2, byte 32 low = 0:  3*0 - 0.5*2
    EXPECT_EQ(x[70], 17.0f);    // s2, byte 38 low = 6:  3*6 - 1
    EXPECT_EQ(x[100], 6.5f);    // s3, byte 36 high = 2: 4*2 - 1.5
    EXPECT_EQ(x[135], 211.0f);  // s4, byte 71 low = 7:  33*7 - 0.5*40
    EXPECT_EQ(x[180], 167.5f);  // s5, byte 84 high = 5: 34*5 - 2.5
    EXPECT_EQ(x[207], 942.0f);  // s6, byte 111 low = 15: 63*15 - 3
    EXPECT_EQ(x[255], 87.5f);   // s7, byte 127 high = 7: 17*7 - 31.5
}

TEST(QuantLayout, Q5_K) {
    // As Q4_K, plus qh[l] = 1 << (l % 8): element 64g + l gets bit 4 when bit 2g of qh[l]
    // is set (l % 8 == 2g), element 64g + 32 + l when bit 2g + 1 is (l % 8 == 2g + 1).
    std::vector<std::byte> qh;
    for (int l = 0; l < 32; ++l) qh.push_back(static_cast<std::byte>(1u << (l % 8)));
    const auto block = concat(concat(concat(bytesOf({0x00, 0x3C, 0x00, 0x38}), kKScales), qh), identityBytes(128));
    const std::vector<float> x = dequantized(DType::kQ5_K, block, 256);
    EXPECT_EQ(x[0], 16.0f);      // s0, q = 0|16:             1*16
    EXPECT_EQ(x[1], 1.0f);       // s0, qh[1] = 2, no bit 0:  1*1
    EXPECT_EQ(x[8], 24.0f);      // s0, q = 8|16
    EXPECT_EQ(x[32], -0.5f);     // s1, qh[0] = 1, no bit 1:  2*0 - 0.5
    EXPECT_EQ(x[33], 31.5f);     // s1, q = 0|16:             2*16 - 0.5
    EXPECT_EQ(x[66], 53.0f);     // s2, q = 2|16:             3*18 - 1
    EXPECT_EQ(x[99], 70.5f);     // s3, byte 35 high 2, qh[3] bit 3: 4*18 - 1.5
    EXPECT_EQ(x[100], 6.5f);     // s3, qh[4] = 16, no bit 3: 4*2 - 1.5
    EXPECT_EQ(x[132], 640.0f);   // s4, q = 4|16:             33*20 - 20
    EXPECT_EQ(x[165], 677.5f);   // s5, byte 69 high 4, qh[5] bit 5: 34*20 - 2.5
    EXPECT_EQ(x[198], 1383.0f);  // s6, q = 6|16:             63*22 - 3
    EXPECT_EQ(x[254], 87.5f);    // s7, byte 126 high 7, qh[30] bit 6 only: 17*7 - 31.5
    EXPECT_EQ(x[255], 359.5f);   // s7, byte 127 high 7, qh[31] bit 7: 17*23 - 31.5
}

TEST(QuantLayout, Q6_K) {
    // ql[i] = i, so ql byte B = 64h + 32(k & 1) + l has low nibble l & 15 and high nibble
    // 4h + 2(k & 1) + l / 16. qh[0..32) = 0xE4 (2-bit pairs 0, 1, 2, 3 for k = 0..3),
    // qh[32..64) = 0x1B (pairs 3, 2, 1, 0). scales = 1, -2, 3, -4, 5, -6, 7, -8, 9, -10,
    // 11, -12, 13, -14, 127, -128; d = 0.5. x = d * scales[e / 16] * (q - 32).
    std::vector<std::byte> block = identityBytes(128);
    for (int i = 0; i < 64; ++i) block.push_back(std::byte{i < 32 ? uint8_t{0xE4} : uint8_t{0x1B}});
    for (int s : {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 127, -128}) {
        block.push_back(static_cast<std::byte>(static_cast<uint8_t>(s)));
    }
    block = concat(block, bytesOf({0x00, 0x38}));
    const std::vector<float> x = dequantized(DType::kQ6_K, block, 256);
    EXPECT_EQ(x[0], -16.0f);      // h0 k0 l0:  B 0 low 0, pair 0:   q - 32 = -32, 0.5*1*-32
    EXPECT_EQ(x[17], 31.0f);      // h0 k0 l17: B 17 low 1, pair 0:  -31, 0.5*-2*-31
    EXPECT_EQ(x[40], -12.0f);     // h0 k1 l8:  B 40 low 8, pair 1:  8+16-32 = -8, 0.5*3*-8
    EXPECT_EQ(x[84], -3.0f);      // h0 k2 l20: B 20 high 1, pair 2: 1+32-32 = 1, 0.5*-6*1
    EXPECT_EQ(x[127], -76.0f);    // h0 k3 l31: B 63 high 3, pair 3: 3+48-32 = 19, 0.5*-8*19
    EXPECT_EQ(x[128], 72.0f);     // h1 k0 l0:  B 64 low 0, pair 3:  48-32 = 16, 0.5*9*16
    EXPECT_EQ(x[165], 27.5f);     // h1 k1 l5:  B 101 low 5, pair 2: 5, 0.5*11*5
    EXPECT_EQ(x[222], 77.0f);     // h1 k2 l30: B 94 high 5, pair 1: 5+16-32 = -11, 0.5*-14*-11
    EXPECT_EQ(x[239], -1651.0f);  // h1 k3 l15: B 111 high 6, pair 0: -26, 0.5*127*-26
    EXPECT_EQ(x[240], 1600.0f);   // h1 k3 l16: B 112 high 7, pair 0: -25, 0.5*-128*-25
}

// ggml's reference quantizers, reproduced bit for bit, on inputs whose scales are exact.
TEST(QuantReference, Q8_0RoundsHalvesAwayFromZero) {
    // amax = 127 -> d = 1.0 (f16 00 3C), codes = roundf(x).
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;
    x[1] = -127.0f;
    x[2] = 2.5f;   // -> 3 (ties away from zero, not to even)
    x[3] = -2.5f;  // -> -3
    x[4] = 0.5f;   // -> 1
    x[5] = 1.49f;  // -> 1
    const std::vector<std::byte> q = quantized(DType::kQ8_0, x);
    EXPECT_EQ(std::vector<std::byte>(q.begin(), q.begin() + 8),
              bytesOf({0x00, 0x3C, 0x7F, 0x81, 0x03, 0xFD, 0x01, 0x01}));
}

TEST(QuantReference, Q4_0UsesTheSignedMaximum) {
    // The largest magnitude is -16, so d = -16 / -8 = 2.0 (f16 00 40); codes are
    // min(15, trunc(x / 2 + 8.5)): -16 -> 0, 16 -> 16 capped to 15, 1 -> 9 (half rounds
    // up), -1 -> 8, 5 -> 11, 0 -> 8 (the remaining elements).
    std::vector<float> x(32, 0.0f);
    x[0] = -16.0f;
    x[1] = 1.0f;
    x[2] = -1.0f;
    x[16] = 16.0f;
    x[17] = 5.0f;
    const std::vector<std::byte> q = quantized(DType::kQ4_0, x);
    // Byte j = code(j) | code(j + 16) << 4.
    EXPECT_EQ(std::vector<std::byte>(q.begin(), q.begin() + 6), bytesOf({0x00, 0x40, 0xF0, 0xB9, 0x88, 0x88}));
    const std::vector<float> y = dequantized(DType::kQ4_0, q, 32);
    EXPECT_EQ(y[0], -16.0f);
    EXPECT_EQ(y[16], 14.0f);  // clipped: the positive side has only 7 steps
    EXPECT_EQ(y[1], 2.0f);
}

TEST(QuantReference, Q4_1UsesMinAndRange) {
    // min = -1, max = 14 -> d = 1.0, m = -1.0 (f16 00 3C 00 BC); codes trunc(x + 1 + 0.5):
    // -1 -> 0, 14 -> 15, 0.5 -> 2 (half rounds up), 2.4 -> 3, and the zeros -> 1.
    std::vector<float> x(32, 0.0f);
    x[0] = -1.0f;
    x[1] = 0.5f;
    x[16] = 14.0f;
    x[17] = 2.4f;
    const std::vector<std::byte> q = quantized(DType::kQ4_1, x);
    EXPECT_EQ(std::vector<std::byte>(q.begin(), q.begin() + 7), bytesOf({0x00, 0x3C, 0x00, 0xBC, 0xF0, 0x32, 0x11}));
}

}  // namespace
}  // namespace vki::quant
