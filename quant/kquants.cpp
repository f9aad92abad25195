// K-quants: Q4_K and Q5_K (8 sub-blocks of 32 with 6-bit scales and mins, one shared
// decoder and encoder parameterized by the fifth bit) and Q6_K (16 sub-blocks of 16
// with int8 scales). Layouts are described in quant/blocks.h.
//
// Encoding is two-level, as in ggml's k-quants (llama.cpp PR #1684): first each
// sub-block's real-valued scale (and min) is searched for, minimizing a weighted squared
// error; then those are quantized against one f16 super-scale per block, and finally
// every element is re-coded against the quantized scale it will be decoded with.
#include <cmath>

#include "quant/blocks.h"
#include "quant/codec.hpp"

namespace vki::quant::detail {
namespace {

constexpr size_t kSuper = VKI_QK_K;
constexpr size_t kSub = 32;                // Q4_K/Q5_K sub-block
constexpr size_t kSubs = kSuper / kSub;    // 8
constexpr size_t kSub6 = 16;               // Q6_K sub-block
constexpr size_t kSubs6 = kSuper / kSub6;  // 16
constexpr float kTinyGroup = 1e-15f;       // a Q6_K sub-block with amax below this encodes as zeros

// ---- Q4_K / Q5_K -------------------------------------------------------------

struct KLayout {
    uint32_t block_bytes;
    uint32_t offset_d;
    uint32_t offset_dmin;
    uint32_t offset_scales;
    int offset_qh;  // -1: 4-bit codes
    uint32_t offset_qs;
};

constexpr KLayout kQ4_KLayout = {
    VKI_Q4_K_BLOCK_BYTES, VKI_Q4_K_OFFSET_D, VKI_Q4_K_OFFSET_DMIN, VKI_Q4_K_OFFSET_SCALES, -1, VKI_Q4_K_OFFSET_QS};
constexpr KLayout kQ5_KLayout = {VKI_Q5_K_BLOCK_BYTES,   VKI_Q5_K_OFFSET_D,  VKI_Q5_K_OFFSET_DMIN,
                                 VKI_Q5_K_OFFSET_SCALES, VKI_Q5_K_OFFSET_QH, VKI_Q5_K_OFFSET_QS};

// The 12 scale bytes <-> 8 six-bit scales sc[] and mins mn[] (packing in blocks.h):
// bytes 0..3 hold sc[0..3] in bits 0..5 and bits 4..5 of sc[4..7] in bits 6..7;
// bytes 4..7 likewise for mn; bytes 8..11 hold the low nibbles of sc[4..7] and mn[4..7].
void unpackScalesMins(const std::byte* packed, uint8_t* sc, uint8_t* mn) {
    for (size_t s = 0; s < kSubs; ++s) {
        if (s < 4) {
            sc[s] = loadU8(packed + s) & 63;
            mn[s] = loadU8(packed + s + 4) & 63;
        } else {
            sc[s] = static_cast<uint8_t>((loadU8(packed + s + 4) & 0xF) | (loadU8(packed + s - 4) >> 6) << 4);
            mn[s] = static_cast<uint8_t>((loadU8(packed + s + 4) >> 4) | (loadU8(packed + s) >> 6) << 4);
        }
    }
}

void packScalesMins(const uint8_t* sc, const uint8_t* mn, std::byte* packed) {
    uint8_t bytes[VKI_K_SCALE_SIZE] = {};
    for (size_t s = 0; s < kSubs; ++s) {
        if (s < 4) {
            bytes[s] |= sc[s];
            bytes[s + 4] |= mn[s];
        } else {
            bytes[s + 4] = static_cast<uint8_t>((sc[s] & 0xF) | (mn[s] & 0xF) << 4);
            bytes[s - 4] |= static_cast<uint8_t>((sc[s] >> 4) << 6);
            bytes[s] |= static_cast<uint8_t>((mn[s] >> 4) << 6);
        }
    }
    for (size_t i = 0; i < VKI_K_SCALE_SIZE; ++i) storeU8(packed + i, bytes[i]);
}

template <KLayout kLayout>
void dequantizeScaleMin(const std::byte* src, float* dst, size_t n_blocks) {
    constexpr bool kHasHighBits = kLayout.offset_qh >= 0;
    for (size_t b = 0; b < n_blocks; ++b, src += kLayout.block_bytes, dst += kSuper) {
        const float d = loadHalf(src + kLayout.offset_d);
        const float dmin = loadHalf(src + kLayout.offset_dmin);
        uint8_t sc[kSubs];
        uint8_t mn[kSubs];
        unpackScalesMins(src + kLayout.offset_scales, sc, mn);
        const std::byte* qs = src + kLayout.offset_qs;
        for (size_t g = 0; g < kSubs / 2; ++g) {
            // Group g: sub-block 2g in the low nibbles of qs[32g ..], sub-block 2g + 1 in the high ones.
            for (size_t half = 0; half < 2; ++half) {
                const size_t s = 2 * g + half;
                const float step = d * static_cast<float>(sc[s]);
                const float offset = dmin * static_cast<float>(mn[s]);
                for (size_t l = 0; l < kSub; ++l) {
                    int q = (loadU8(qs + kSub * g + l) >> (4 * half)) & 0xF;
                    if constexpr (kHasHighBits) q |= ((loadU8(src + kLayout.offset_qh + l) >> s) & 1) << 4;
                    dst[kSub * s + l] = step * static_cast<float>(q) - offset;
                }
            }
        }
    }
}

// Weighted least-squares fit of x[0..32) ≈ scale * L - offset with integer L in [0, nmax]
// and offset >= 0: for each candidate inverse scale (nmax + rmin + rdelta * k) / range,
// k = 0..nstep, code the values, solve the 2x2 normal equations for (scale, offset) given
// those codes, and keep the pair with the least weighted error. O(nstep * 32).
struct AffineSearch {
    float rmin;
    float rdelta;
    int nstep;
};
constexpr AffineSearch kQ4_KSearch = {-1.0f, 0.1f, 20};
constexpr AffineSearch kQ5_KSearch = {-0.5f, 0.1f, 15};

struct AffineFit {
    float scale;
    float offset;
};

AffineFit fitAffine(const float* x, const float* w, int nmax, const AffineSearch& search) {
    float lo = x[0];
    float hi = x[0];
    float sum_w = 0.0f;
    float sum_wx = 0.0f;
    for (size_t i = 0; i < kSub; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
        sum_w += w[i];
        sum_wx += w[i] * x[i];
    }
    lo = std::min(lo, 0.0f);  // the offset is subtracted, so the fitted minimum is never above 0
    if (hi == lo) return {0.0f, -lo};

    const auto error = [&](float scale, float min, const uint8_t* codes) {
        float e = 0.0f;
        for (size_t i = 0; i < kSub; ++i) {
            const float diff = scale * static_cast<float>(codes[i]) + min - x[i];
            e += w[i] * diff * diff;
        }
        return e;
    };
    uint8_t codes[kSub];
    float best_scale = (hi - lo) / static_cast<float>(nmax);
    float best_min = lo;
    for (size_t i = 0; i < kSub; ++i) codes[i] = static_cast<uint8_t>(roundClamp((x[i] - lo) / best_scale, 0, nmax));
    float best_error = error(best_scale, best_min, codes);

    for (int k = 0; k <= search.nstep; ++k) {
        const float iscale =
            (static_cast<float>(nmax) + search.rmin + search.rdelta * static_cast<float>(k)) / (hi - lo);
        float sum_l = 0.0f;
        float sum_l2 = 0.0f;
        float sum_xl = 0.0f;
        for (size_t i = 0; i < kSub; ++i) {
            const int l = roundClamp(iscale * (x[i] - lo), 0, nmax);
            codes[i] = static_cast<uint8_t>(l);
            sum_l += w[i] * static_cast<float>(l);
            sum_l2 += w[i] * static_cast<float>(l * l);
            sum_xl += w[i] * static_cast<float>(l) * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0.0f)) continue;
        float scale = (sum_w * sum_xl - sum_wx * sum_l) / det;
        float min = (sum_l2 * sum_wx - sum_l * sum_xl) / det;
        if (min > 0.0f) {
            min = 0.0f;
            scale = sum_xl / sum_l2;
        }
        const float e = error(scale, min, codes);
        if (e < best_error) {
            best_error = e;
            best_scale = scale;
            best_min = min;
        }
    }
    return {best_scale, -best_min};
}

template <KLayout kLayout>
void quantizeScaleMin(DType type, const AffineSearch& search, const float* src, std::byte* dst, size_t n_blocks) {
    constexpr bool kHasHighBits = kLayout.offset_qh >= 0;
    constexpr int kMaxCode = kHasHighBits ? 31 : 15;
    for (size_t b = 0; b < n_blocks; ++b, src += kSuper, dst += kLayout.block_bytes) {
        requireFinite(type, src, kSuper, b);

        // Sub-block fits. Weights favour large magnitudes (|x| plus the sub-block's RMS),
        // as ggml's reference quantizer does: errors on large weights cost more.
        float scales[kSubs];
        float offsets[kSubs];
        float max_scale = 0.0f;
        float max_offset = 0.0f;
        for (size_t s = 0; s < kSubs; ++s) {
            const float* x = src + kSub * s;
            float sum_x2 = 0.0f;
            for (size_t i = 0; i < kSub; ++i) sum_x2 += x[i] * x[i];
            const float rms = std::sqrt(sum_x2 / static_cast<float>(kSub));
            float w[kSub];
            for (size_t i = 0; i < kSub; ++i) w[i] = rms + std::fabs(x[i]);
            const AffineFit fit = fitAffine(x, w, kMaxCode, search);
            scales[s] = fit.scale;
            offsets[s] = fit.offset;
            max_scale = std::max(max_scale, fit.scale);
            max_offset = std::max(max_offset, fit.offset);
        }

        // 6-bit scales and mins against the stored (f16-rounded) super-scales.
        const float d = storeHalf(dst + kLayout.offset_d, max_scale / 63.0f);
        const float dmin = storeHalf(dst + kLayout.offset_dmin, max_offset / 63.0f);
        requireFiniteScale(type, d, b);
        requireFiniteScale(type, dmin, b);
        uint8_t sc[kSubs];
        uint8_t mn[kSubs];
        for (size_t s = 0; s < kSubs; ++s) {
            sc[s] = static_cast<uint8_t>(d > 0.0f ? roundClamp(scales[s] / d, 0, 63) : 0);
            mn[s] = static_cast<uint8_t>(dmin > 0.0f ? roundClamp(offsets[s] / dmin, 0, 63) : 0);
        }
        packScalesMins(sc, mn, dst + kLayout.offset_scales);

        // Codes against the step and offset the decoder will compute (same float products).
        uint8_t codes[kSuper];
        for (size_t s = 0; s < kSubs; ++s) {
            const float step = d * static_cast<float>(sc[s]);
            const float offset = dmin * static_cast<float>(mn[s]);
            for (size_t i = 0; i < kSub; ++i) {
                const size_t e = kSub * s + i;
                codes[e] = static_cast<uint8_t>(step > 0.0f ? roundClamp((src[e] + offset) / step, 0, kMaxCode) : 0);
            }
        }
        std::byte* qs = dst + kLayout.offset_qs;
        uint8_t qh[kSub] = {};
        for (size_t g = 0; g < kSubs / 2; ++g) {
            for (size_t l = 0; l < kSub; ++l) {
                const uint8_t lo = codes[2 * kSub * g + l];
                const uint8_t hi = codes[2 * kSub * g + kSub + l];
                storeU8(qs + kSub * g + l, static_cast<unsigned>((lo & 0xF) | (hi & 0xF) << 4));
                qh[l] |= static_cast<uint8_t>((lo >> 4) << (2 * g) | (hi >> 4) << (2 * g + 1));
            }
        }
        if constexpr (kHasHighBits) {
            for (size_t l = 0; l < kSub; ++l) storeU8(dst + kLayout.offset_qh + l, qh[l]);
        }
    }
}

// ---- Q6_K ----------------------------------------------------------------------

// Element e = 128h + 32k + l of a Q6_K block: where its 4 low bits and 2 high bits live.
struct Q6Position {
    size_t ql;          // byte in ql
    unsigned ql_shift;  // 0 or 4
    size_t qh;          // byte in qh
    unsigned qh_shift;  // 0, 2, 4 or 6
};

constexpr Q6Position q6Position(size_t e) {
    const size_t h = e / 128;
    const size_t k = (e / 32) % 4;
    const size_t l = e % 32;
    return {64 * h + 32 * (k & 1) + l, k < 2 ? 0u : 4u, 32 * h + l, static_cast<unsigned>(2 * k)};
}

void dequantizeQ6Blocks(const std::byte* src, float* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += VKI_Q6_K_BLOCK_BYTES, dst += kSuper) {
        const float d = loadHalf(src + VKI_Q6_K_OFFSET_D);
        for (size_t e = 0; e < kSuper; ++e) {
            const Q6Position p = q6Position(e);
            const int low = (loadU8(src + VKI_Q6_K_OFFSET_QL + p.ql) >> p.ql_shift) & 0xF;
            const int high = (loadU8(src + VKI_Q6_K_OFFSET_QH + p.qh) >> p.qh_shift) & 3;
            const int q = (low | high << 4) - 32;
            const int8_t scale = static_cast<int8_t>(loadU8(src + VKI_Q6_K_OFFSET_SCALES + e / kSub6));
            // (d * scale) * q, the order ggml's dequantize_row_q6_K evaluates.
            dst[e] = d * static_cast<float>(scale) * static_cast<float>(q);
        }
    }
}

// Symmetric fit of x[0..16) ≈ scale * L with integer L in [-32, 31], weights x^2. The
// value of largest magnitude maps near -32 (the side with one more level), so the scale
// has the opposite sign to it. Candidates: inverse scales -(32 + 0.1k) / max, k = -9..9;
// for each the optimal scale given the codes is sumlx / suml2, and the best candidate
// maximizes sumlx^2 / suml2 (equivalently, minimizes the weighted squared error).
float fitSymmetric(const float* x) {
    float amax = 0.0f;
    float max = 0.0f;
    for (size_t i = 0; i < kSub6; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    if (amax < kTinyGroup) return 0.0f;
    float best_scale = 0.0f;
    float best_score = 0.0f;
    for (int k = -9; k <= 9; ++k) {
        const float iscale = -(32.0f + 0.1f * static_cast<float>(k)) / max;
        float sum_lx = 0.0f;
        float sum_l2 = 0.0f;
        for (size_t i = 0; i < kSub6; ++i) {
            const float l = static_cast<float>(roundClamp(iscale * x[i], -32, 31));
            const float w = x[i] * x[i];
            sum_lx += w * x[i] * l;
            sum_l2 += w * l * l;
        }
        if (sum_l2 > 0.0f && sum_lx * sum_lx > best_score * sum_l2) {
            best_score = sum_lx * sum_lx / sum_l2;
            best_scale = sum_lx / sum_l2;
        }
    }
    return best_scale;
}

void quantizeQ6Blocks(const float* src, std::byte* dst, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, src += kSuper, dst += VKI_Q6_K_BLOCK_BYTES) {
        requireFinite(DType::kQ6_K, src, kSuper, b);
        float scales[kSubs6];
        float max_scale = 0.0f;  // the signed scale of largest magnitude
        for (size_t s = 0; s < kSubs6; ++s) {
            scales[s] = fitSymmetric(src + kSub6 * s);
            if (std::fabs(scales[s]) > std::fabs(max_scale)) max_scale = scales[s];
        }

        // int8 sub-scales against d = max_scale / -128: the largest maps to -128, the
        // extra level of int8's negative side.
        const float d = storeHalf(dst + VKI_Q6_K_OFFSET_D, max_scale / -128.0f);
        requireFiniteScale(DType::kQ6_K, d, b);
        int8_t sc[kSubs6];
        for (size_t s = 0; s < kSubs6; ++s) {
            sc[s] = static_cast<int8_t>(d != 0.0f ? roundClamp(scales[s] / d, -128, 127) : 0);
            storeU8(dst + VKI_Q6_K_OFFSET_SCALES + s, static_cast<unsigned>(sc[s]));
        }

        uint8_t ql[VKI_Q6_K_OFFSET_QH - VKI_Q6_K_OFFSET_QL] = {};
        uint8_t qh[VKI_Q6_K_OFFSET_SCALES - VKI_Q6_K_OFFSET_QH] = {};
        for (size_t e = 0; e < kSuper; ++e) {
            const float step = d * static_cast<float>(sc[e / kSub6]);
            const int code = step != 0.0f ? roundClamp(src[e] / step, -32, 31) + 32 : 32;
            const Q6Position p = q6Position(e);
            ql[p.ql] |= static_cast<uint8_t>((code & 0xF) << p.ql_shift);
            qh[p.qh] |= static_cast<uint8_t>((code >> 4) << p.qh_shift);
        }
        for (size_t i = 0; i < sizeof(ql); ++i) storeU8(dst + VKI_Q6_K_OFFSET_QL + i, ql[i]);
        for (size_t i = 0; i < sizeof(qh); ++i) storeU8(dst + VKI_Q6_K_OFFSET_QH + i, qh[i]);
    }
}

}  // namespace

void dequantizeQ4_K(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeScaleMin<kQ4_KLayout>(src, dst, n_blocks);
}
void dequantizeQ5_K(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeScaleMin<kQ5_KLayout>(src, dst, n_blocks);
}
void dequantizeQ6_K(const std::byte* src, float* dst, size_t n_blocks) {
    dequantizeQ6Blocks(src, dst, n_blocks);
}

void quantizeQ4_K(const float* src, std::byte* dst, size_t n_blocks) {
    quantizeScaleMin<kQ4_KLayout>(DType::kQ4_K, kQ4_KSearch, src, dst, n_blocks);
}
void quantizeQ5_K(const float* src, std::byte* dst, size_t n_blocks) {
    quantizeScaleMin<kQ5_KLayout>(DType::kQ5_K, kQ5_KSearch, src, dst, n_blocks);
}
void quantizeQ6_K(const float* src, std::byte* dst, size_t n_blocks) {
    quantizeQ6Blocks(src, dst, n_blocks);
}

}  // namespace vki::quant::detail
