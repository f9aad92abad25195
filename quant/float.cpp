// IEEE binary16 and bfloat16 conversions, and the f32/f16/bf16 "codecs" (one element
// per block). Done with integer bit operations so results do not depend on the host's
// floating-point environment or on compiler support for _Float16.
#include <bit>

#include "quant/codec.hpp"

namespace vki::quant {

float fp16ToFp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in binary32.
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | mantissa << 13);  // inf, NaN
    return std::bit_cast<float>(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

uint16_t fp32ToFp16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t exponent = (bits >> 23) & 0xFFu;
    const uint32_t mantissa = bits & 0x7FFFFFu;
    if (exponent == 0xFF) {
        if (mantissa == 0) return sign | 0x7C00u;
        // Quiet NaN with the top payload bits; the quiet bit keeps it non-zero.
        return static_cast<uint16_t>(sign | 0x7E00u | mantissa >> 13);
    }
    const int e = static_cast<int>(exponent) - 127;  // unbiased; binary32 subnormals land far below -25
    if (e >= 16) return sign | 0x7C00u;
    if (e < -25) return sign;  // below half the smallest subnormal: rounds to zero

    // Shift the significand right so that its integer part is the half's significand
    // field (normal: exponent and 10 mantissa bits together; subnormal: 2^-24 units),
    // then round on the dropped bits. A carry out of the mantissa correctly bumps the
    // exponent, and from the largest finite half (0x7BFF) yields infinity (0x7C00).
    uint32_t result;
    uint32_t dropped;
    uint32_t half_way;
    if (e >= -14) {
        result = static_cast<uint32_t>(e + 15) << 10 | mantissa >> 13;
        dropped = mantissa & 0x1FFFu;
        half_way = 0x1000u;
    } else {
        const uint32_t significand = mantissa | 0x800000u;
        const int shift = -1 - e;  // 14 .. 24: value = significand * 2^(e - 23), unit 2^-24
        result = significand >> shift;
        dropped = significand & ((1u << shift) - 1);
        half_way = 1u << (shift - 1);
    }
    if (dropped > half_way || (dropped == half_way && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
}

float bf16ToFp32(uint16_t b) {
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

uint16_t fp32ToBf16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    // NaN: truncating could clear every payload bit and make an infinity; set the quiet bit.
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
    // Round to nearest even on the low 16 bits; a carry propagates into the exponent,
    // and past the largest finite value it yields infinity, as IEEE rounding does.
    const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

namespace detail {

// f32 bytes are little-endian binary32; copied through loadU32/storeU32 so the
// result does not depend on the host's byte order.
void dequantizeF32(const std::byte* src, float* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) dst[i] = std::bit_cast<float>(loadU32(src + 4 * i));
}

void dequantizeF16(const std::byte* src, float* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) dst[i] = fp16ToFp32(loadU16(src + 2 * i));
}

void dequantizeBF16(const std::byte* src, float* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) dst[i] = bf16ToFp32(loadU16(src + 2 * i));
}

void quantizeF32(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) storeU32(dst + 4 * i, std::bit_cast<uint32_t>(src[i]));
}

void quantizeF16(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) storeU16(dst + 2 * i, fp32ToFp16(src[i]));
}

void quantizeBF16(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; ++i) storeU16(dst + 2 * i, fp32ToBf16(src[i]));
}

}  // namespace detail
}  // namespace vki::quant
