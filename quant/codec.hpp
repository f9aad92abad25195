// Internal to quant/: the per-format codecs behind quantize() and dequantize(), and the
// byte and rounding helpers they share. The public entry points have checked sizes
// already, so each codec takes a whole number of blocks.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "quant/quant.hpp"

namespace vki::quant::detail {

// Decodes n_blocks blocks from src into n_blocks * block_elements floats at dst.
using DequantizeFn = void (*)(const std::byte* src, float* dst, size_t n_blocks);
// Encodes n_blocks * block_elements floats from src into n_blocks blocks at dst.
using QuantizeFn = void (*)(const float* src, std::byte* dst, size_t n_blocks);

void dequantizeF32(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeF16(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeBF16(const std::byte* src, float* dst, size_t n_blocks);
void quantizeF32(const float* src, std::byte* dst, size_t n_blocks);
void quantizeF16(const float* src, std::byte* dst, size_t n_blocks);
void quantizeBF16(const float* src, std::byte* dst, size_t n_blocks);

void dequantizeQ4_0(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ4_1(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ5_0(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ5_1(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ8_0(const std::byte* src, float* dst, size_t n_blocks);
void quantizeQ4_0(const float* src, std::byte* dst, size_t n_blocks);
void quantizeQ4_1(const float* src, std::byte* dst, size_t n_blocks);
void quantizeQ8_0(const float* src, std::byte* dst, size_t n_blocks);

void dequantizeQ4_K(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ5_K(const std::byte* src, float* dst, size_t n_blocks);
void dequantizeQ6_K(const std::byte* src, float* dst, size_t n_blocks);
void quantizeQ4_K(const float* src, std::byte* dst, size_t n_blocks);
void quantizeQ5_K(const float* src, std::byte* dst, size_t n_blocks);
void quantizeQ6_K(const float* src, std::byte* dst, size_t n_blocks);

// Little-endian loads and stores at any alignment.
inline uint8_t loadU8(const std::byte* p) {
    return static_cast<uint8_t>(p[0]);
}
inline uint16_t loadU16(const std::byte* p) {
    return static_cast<uint16_t>(static_cast<uint16_t>(p[0]) | static_cast<uint16_t>(p[1]) << 8);
}
inline uint32_t loadU32(const std::byte* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}
inline void storeU8(std::byte* p, unsigned v) {
    p[0] = static_cast<std::byte>(v & 0xFF);
}
inline void storeU16(std::byte* p, uint16_t v) {
    p[0] = static_cast<std::byte>(v & 0xFF);
    p[1] = static_cast<std::byte>(v >> 8);
}
inline void storeU32(std::byte* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
}

inline float loadHalf(const std::byte* p) {
    return fp16ToFp32(loadU16(p));
}
// Stores f as f16 and returns the value that was stored, which is what the
// dequantizer will read back.
inline float storeHalf(std::byte* p, float f) {
    const uint16_t h = fp32ToFp16(f);
    storeU16(p, h);
    return fp16ToFp32(h);
}

// Nearest integer to v (ties to even, as ggml's nearest_int), clamped to [lo, hi], for
// |lo|, |hi| < 2^22; a NaN gives lo. After clamping, adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits (under the default rounding mode, to nearest even);
// this avoids a library call to nearbyint in the quantizers' innermost loops.
inline int roundClamp(float v, int lo, int hi) {
    const float flo = static_cast<float>(lo);
    const float fhi = static_cast<float>(hi);
    v = v > flo ? v : flo;
    v = v < fhi ? v : fhi;
    return std::bit_cast<int32_t>(v + 12582912.0f) - 0x4B400000;
}

// Quantizers refuse inputs they cannot encode faithfully rather than write blocks that
// decode to NaN or infinity. `block` is the block's index in the caller's span.
// Throws Error(kInvalidArgument) unless x[0..n) are all finite.
void requireFinite(DType type, const float* x, size_t n, size_t block);
// Throws Error(kInvalidArgument) when a stored f16 scale overflowed to infinity.
void requireFiniteScale(DType type, float stored_scale, size_t block);

}  // namespace vki::quant::detail
