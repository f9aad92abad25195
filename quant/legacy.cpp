// The 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1 (one parameterized decoder)
// and Q8_0. Quantizers follow ggml's quantize_row_*_ref bit for bit, so files we write
// match llama.cpp's for the same input.
#include "quant/blocks.h"
#include "quant/codec.hpp"

namespace vki::quant::detail {
namespace {

constexpr size_t kBlock = 32;
static_assert(VKI_Q4_0_BLOCK_ELEMENTS == kBlock && VKI_Q4_1_BLOCK_ELEMENTS == kBlock &&
              VKI_Q5_0_BLOCK_ELEMENTS == kBlock && VKI_Q5_1_BLOCK_ELEMENTS == kBlock &&
              VKI_Q8_0_BLOCK_ELEMENTS == kBlock);

// Q4_0, Q4_1, Q5_0 and Q5_1 differ only in which fields a block has: a min m (then
// x = q * d + m, else x = (q - centre) * d with centre = 2^(bits - 1)) and a u32 of
// fifth bits qh. Offsets are from blocks.h; -1 marks an absent field.
struct NibbleLayout {
    uint32_t block_bytes;
    uint32_t offset_d;
    int offset_m;
    int offset_qh;
    uint32_t offset_qs;
};

constexpr NibbleLayout kQ4_0Layout = {VKI_Q4_0_BLOCK_BYTES, VKI_Q4_0_OFFSET_D, -1, -1, VKI_Q4_0_OFFSET_QS};
constexpr NibbleLayout kQ4_1Layout = {VKI_Q4_1_BLOCK_BYTES, VKI_Q4_1_OFFSET_D, VKI_Q4_1_OFFSET_M, -1,
                                      VKI_Q4_1_OFFSET_QS};
constexpr NibbleLayout kQ5_0Layout = {VKI_Q5_0_BLOCK_BYTES, VKI_Q5_0_OFFSET_D, -1, VKI_Q5_0_OFFSET_QH,
                                      VKI_Q5_0_OFFSET_QS};
constexpr NibbleLayout kQ5_1Layout = {VKI_Q5_1_BLOCK_BYTES, VKI_Q5_1_OFFSET_D, VKI_Q5_1_OFFSET_M, VKI_Q5_1_OFFSET_QH,
                                      VKI_Q5_1_OFFSET_QS};

template <NibbleLayout kLayout>
void dequantizeNibbles(const std::byte* src, float* dst, size_t n_blocks) {
    constexpr bool kHasMin = kLayout.offset_m >= 0;
    constexpr bool kHasHighBits = kLayout.offset_qh >= 0;
    constexpr int kCentre = kHasMin ? 0 : kHasHighBits ? 16 : 8;
    for (size_t b = 0; b < n_blocks; ++b, src += kLayout.block_bytes, dst += kBlock) {
        const float d = loadHalf(src + kLayout.offset_d);
        float m = 0.0f;
        if constexpr (kHasMin) m = loadHalf(src + kLayout.offset_m);
        uint32_t qh = 0;
        if constexpr (kHasHighBits) qh = loadU32(src + kLayout.offset_qh);
        const std::byte* qs = src + kLayout.offset_qs;
        for (size_t j = 0; j < kBlock / 2; ++j) {
            const uint8_t byte = loadU8(qs + j);
            const int q_lo = (byte & 0xF) | static_cast<int>((qh >> j) & 1u) << 4;
            const int q_hi = (byte >> 4) | static_cast<int>((qh >> (j + 16)) & 1u) << 4;
            // Same operations in the same order as ggml's dequantize_row_*, for identical floats.
            if constexpr (kHasMin) {
                dst[j] = static_cast<float>(q_lo) * d + m;
                dst[j + 16] = static_cast<float>(q_hi) * d + m;
            } else {
                dst[j] = static_cast<float>(q_lo - kCentre) * d;
                dst[j + 16] = static_cast<float>(q_hi - kCentre) * d;
            }
        }
    }
}

// v clamped to [lo, hi], NaN to 0. Inputs are finite, but x * (1 / d) is NaN or infinite
// when d is a binary32 subnormal (its f16 rounding is then 0 and the codes do not matter).
float clampCode(float v, float lo, float hi) {
    return std::isnan(v) ? 0.0f : std::clamp(v, lo, hi);
}

// q[0..32) (4-bit codes) -> 16 bytes: element j in the low nibble of byte j, element j + 16 in its high nibble.
void storeNibbles(const uint8_t* q, std::byte* qs) {
    for (size_t j = 0; j < kBlock / 2; ++j) storeU8(qs + j, static_cast<unsigned>(q[j] | q[j + 16] << 4));
}

}  // namespace

void dequantizeQ4_0(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeNibbles<kQ4_0Layout>(src, dst, n_blocks);
}
void dequantizeQ4_1(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeNibbles<kQ4_1Layout>(src, dst, n_blocks);
}
void dequantizeQ5_0(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeNibbles<kQ5_0Layout>(src, dst, n_blocks);
}
void dequantizeQ5_1(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeNibbles<kQ5_1Layout>(src, dst, n_blocks);
}

void dequantizeQ8_0(const std::byte* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += VKI_Q8_0_BLOCK_BYTES, dst += kBlock) {
        const float d = loadHalf(src + VKI_Q8_0_OFFSET_D);
        for (size_t j = 0; j < kBlock; ++j) {
            dst[j] = static_cast<float>(static_cast<int8_t>(loadU8(src + VKI_Q8_0_OFFSET_QS + j))) * d;
        }
    }
}

// Symmetric: d = max / -8 where max is the value of largest magnitude (the first one on
// a tie), so that value encodes exactly as code 0 (-8 * d) and the opposite side gets
// the remaining 7 steps. Codes round half up: trunc(x / d + 8.5), capped at 15.
void quantizeQ4_0(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += kBlock, dst += VKI_Q4_0_BLOCK_BYTES) {
        requireFinite(DType::kQ4_0, src, kBlock, b);
        float amax = 0.0f;
        float max = 0.0f;
        for (size_t j = 0; j < kBlock; ++j) {
            if (amax < std::fabs(src[j])) {
                amax = std::fabs(src[j]);
                max = src[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        requireFiniteScale(DType::kQ4_0, storeHalf(dst + VKI_Q4_0_OFFSET_D, d), b);
        uint8_t q[kBlock];
        for (size_t j = 0; j < kBlock; ++j) q[j] = static_cast<uint8_t>(clampCode(src[j] * id + 8.5f, 0.0f, 15.0f));
        storeNibbles(q, dst + VKI_Q4_0_OFFSET_QS);
    }
}

// Affine: m = min, d = (max - min) / 15, codes trunc((x - min) / d + 0.5) capped at 15.
void quantizeQ4_1(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += kBlock, dst += VKI_Q4_1_BLOCK_BYTES) {
        requireFinite(DType::kQ4_1, src, kBlock, b);
        float min = src[0];
        float max = src[0];
        for (size_t j = 1; j < kBlock; ++j) {
            min = std::min(min, src[j]);
            max = std::max(max, src[j]);
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        requireFiniteScale(DType::kQ4_1, storeHalf(dst + VKI_Q4_1_OFFSET_D, d), b);
        requireFiniteScale(DType::kQ4_1, storeHalf(dst + VKI_Q4_1_OFFSET_M, min), b);
        uint8_t q[kBlock];
        for (size_t j = 0; j < kBlock; ++j) {
            q[j] = static_cast<uint8_t>(clampCode((src[j] - min) * id + 0.5f, 0.0f, 15.0f));
        }
        storeNibbles(q, dst + VKI_Q4_1_OFFSET_QS);
    }
}

// Symmetric: d = amax / 127, codes round(x / d) with halves away from zero (roundf).
void quantizeQ8_0(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += kBlock, dst += VKI_Q8_0_BLOCK_BYTES) {
        requireFinite(DType::kQ8_0, src, kBlock, b);
        float amax = 0.0f;
        for (size_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        requireFiniteScale(DType::kQ8_0, storeHalf(dst + VKI_Q8_0_OFFSET_D, d), b);
        for (size_t j = 0; j < kBlock; ++j) {
            const int q = static_cast<int>(std::round(clampCode(src[j] * id, -127.0f, 127.0f)));
            storeU8(dst + VKI_Q8_0_OFFSET_QS + j, static_cast<unsigned>(q));  // two's complement int8
        }
    }
}

}  // namespace vki::quant::detail
