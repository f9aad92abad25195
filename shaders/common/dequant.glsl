// Weight decoding for the fused-dequant kernels. dqValues4 is bit-exact with
// quant::dequantize (ggml's dequantize_row_*: same operations in the same order,
// `precise` so that no compiler fuses a multiply and an add into an fma); dqRaw4,
// dqScale and dqOffset give the same weights factored, for dot products.
//
// A row is read as 32-element chunks: one block of the 32-element formats, one
// 32-element sub-block of a 256-element K-quant super-block, or 32 plain values of
// f32/f16/bf16 (whose rows may end in a partial chunk: see dqElement).
//
// The including kernel defines exactly one weight type, WTYPE_F32 | WTYPE_F16 |
// WTYPE_BF16 | WTYPE_Q4_0 | WTYPE_Q4_1 | WTYPE_Q5_0 | WTYPE_Q5_1 | WTYPE_Q8_0 |
// WTYPE_Q4_K | WTYPE_Q5_K | WTYPE_Q6_K, declares its weight buffers as arrays of
// DQ_WORD (uint16_t: every GGML block size is even; uint for f32), requires
// GL_EXT_shader_16bit_storage unless WTYPE_F32, and defines
//     uint dqLoad(uint src, uint index)
// returning word `index` of weight source `src` (a constant at every call site, so
// a kernel with two weight slabs selects between them at no cost once inlined).
// Word indices are absolute; `row_base` arguments are the word index of a row.
#ifndef VKI_DEQUANT_GLSL
#define VKI_DEQUANT_GLSL

#include "../../quant/blocks.h"

#define DQ_CHUNK 32

#if defined(WTYPE_F32)
#define DQ_WORD uint
#define DQ_FLOAT_TYPE
#elif defined(WTYPE_F16) || defined(WTYPE_BF16)
#define DQ_WORD uint16_t
#define DQ_FLOAT_TYPE
#elif defined(WTYPE_Q4_0)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q4_0_BLOCK_BYTES / 2)
#elif defined(WTYPE_Q4_1)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q4_1_BLOCK_BYTES / 2)
#define DQ_HAS_OFFSET
#elif defined(WTYPE_Q5_0)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q5_0_BLOCK_BYTES / 2)
#elif defined(WTYPE_Q5_1)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q5_1_BLOCK_BYTES / 2)
#define DQ_HAS_OFFSET
#elif defined(WTYPE_Q8_0)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q8_0_BLOCK_BYTES / 2)
#elif defined(WTYPE_Q4_K)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q4_K_BLOCK_BYTES / 2)
#define DQ_K_QUANT
#define DQ_HAS_OFFSET
#elif defined(WTYPE_Q5_K)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q5_K_BLOCK_BYTES / 2)
#define DQ_K_QUANT
#define DQ_HAS_OFFSET
#elif defined(WTYPE_Q6_K)
#define DQ_WORD uint16_t
#define DQ_BLOCK_WORDS (VKI_Q6_K_BLOCK_BYTES / 2)
#define DQ_K_QUANT
#else
#error "define one WTYPE_*"
#endif

uint dqLoad(uint src, uint index);

// ---- helpers ---------------------------------------------------------------------

// Word index of a field at an even byte offset of a block.
#define DQ_AT(base, byte_offset) ((base) + (byte_offset) / 2)

// IEEE binary16 -> binary32, exact for every input (subnormals included, which
// hardware conversions may flush), as quant::fp16ToFp32.
float dqHalf(uint h) {
    const uint sign = (h & 0x8000u) << 16;
    const uint exponent = (h >> 10) & 0x1Fu;
    const uint mantissa = h & 0x3FFu;
    if (exponent == 0u) {
        precise float magnitude = float(mantissa) * (1.0 / 16777216.0);  // mantissa * 2^-24, exact
        return sign != 0u ? -magnitude : magnitude;
    }
    if (exponent == 0x1Fu) return uintBitsToFloat(sign | 0x7F800000u | mantissa << 13);
    return uintBitsToFloat(sign | (exponent + 112u) << 23 | mantissa << 13);
}

// Four consecutive bytes starting at the (even) byte of word `index`, little-endian.
uint dqLoad32(uint src, uint index) {
    return dqLoad(src, index) | dqLoad(src, index + 1u) << 16;
}

// Byte `offset` (any parity) counted from word `base`.
uint dqByte(uint src, uint base, uint offset) {
    return (dqLoad(src, base + (offset >> 1)) >> ((offset & 1u) << 3)) & 0xFFu;
}

// Bytes 0..3 of `packed` shifted right by `shift` and masked: four codes.
uvec4 dqCodes(uint packed, uint shift, uint mask) {
    return (uvec4(packed) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & mask;
}

// ---- chunks ----------------------------------------------------------------------

struct DqChunk {
    uint base;  // word index of the block (float types: of the chunk's first element)
    uint sub;   // K-quants: the chunk's 32-element sub-block in its super-block
    float d;    // scale (Q6_K: of elements 0..15; K-quants: d * sub-block scale)
    float d2;   // Q6_K: scale of elements 16..31
    float m;    // min (Q4_1, Q5_1), or -dmin * sub-block min (Q4_K, Q5_K)
};

// Chunk `chunk` (elements 32 * chunk .. + 31) of the row at word `row_base`; the
// whole chunk must lie inside the row.
DqChunk dqChunk(uint src, uint row_base, uint chunk) {
    DqChunk c;
    c.sub = 0u;
    c.d = 0.0;
    c.d2 = 0.0;
    c.m = 0.0;
#if defined(DQ_FLOAT_TYPE)
    c.base = row_base + chunk * DQ_CHUNK;
#elif !defined(DQ_K_QUANT)
    c.base = row_base + chunk * DQ_BLOCK_WORDS;
#if defined(WTYPE_Q4_1) || defined(WTYPE_Q5_1)
    // Q4_1 and Q5_1 both start with d, m.
    c.d = dqHalf(dqLoad(src, DQ_AT(c.base, VKI_Q4_1_OFFSET_D)));
    c.m = dqHalf(dqLoad(src, DQ_AT(c.base, VKI_Q4_1_OFFSET_M)));
#else
    c.d = dqHalf(dqLoad(src, c.base));  // Q4_0, Q5_0, Q8_0: d at offset 0
#endif
#else
    c.base = row_base + (chunk >> 3) * DQ_BLOCK_WORDS;
    c.sub = chunk & 7u;
#if defined(WTYPE_Q6_K)
    const float d = dqHalf(dqLoad(src, DQ_AT(c.base, VKI_Q6_K_OFFSET_D)));
    // Sub-block s = 4h + k covers 16-element scale groups 2s and 2s + 1: one word.
    const uint scales = dqLoad(src, DQ_AT(c.base, VKI_Q6_K_OFFSET_SCALES) + c.sub);
    precise float d_lo = d * float(int(scales << 24) >> 24);
    precise float d_hi = d * float(int(scales << 16) >> 24);
    c.d = d_lo;
    c.d2 = d_hi;
#else
    // Q4_K and Q5_K share the header: d, dmin, 12 bytes of packed 6-bit scales/mins.
    const float d = dqHalf(dqLoad(src, DQ_AT(c.base, VKI_Q4_K_OFFSET_D)));
    const float dmin = dqHalf(dqLoad(src, DQ_AT(c.base, VKI_Q4_K_OFFSET_DMIN)));
    const uint sb = DQ_AT(c.base, VKI_Q4_K_OFFSET_SCALES);
    const uint s = c.sub;
    uint sc, mn;
    if (s < 4u) {
        sc = dqByte(src, sb, s) & 63u;
        mn = dqByte(src, sb, s + 4u) & 63u;
    } else {
        const uint hi = dqByte(src, sb, s + 4u);
        sc = (hi & 15u) | (dqByte(src, sb, s - 4u) >> 6) << 4;
        mn = (hi >> 4) | (dqByte(src, sb, s) >> 6) << 4;
    }
    precise float step = d * float(sc);
    precise float offset = dmin * float(mn);
    c.d = step;
    c.m = -offset;  // x = step * q - offset = step * q + m, exactly
#endif
#endif
    return c;
}

// Elements 4j .. 4j + 3 (j < 8) of a chunk are
//     dqScale(c, j) * dqRaw4(src, c, j) (+ dqOffset(c) where DQ_HAS_OFFSET),
// raw being the integer code (minus the centre for the symmetric formats) as a
// float, or the value itself for plain floats (scale 1). Evaluated per element,
// this is exactly ggml's arithmetic (dqValues4); the matvec kernel instead
// multiplies the scale into a dot product of raw values, one multiply less per weight.

float dqScale(DqChunk c, uint j) {
#if defined(DQ_FLOAT_TYPE)
    return 1.0;
#elif defined(WTYPE_Q6_K)
    return j < 4u ? c.d : c.d2;
#else
    return c.d;
#endif
}

float dqOffset(DqChunk c) {
    return c.m;
}

vec4 dqRaw4(uint src, DqChunk c, uint j) {
#if defined(WTYPE_F32)
    const uint b = c.base + 4u * j;
    return vec4(uintBitsToFloat(dqLoad(src, b)), uintBitsToFloat(dqLoad(src, b + 1u)),
                uintBitsToFloat(dqLoad(src, b + 2u)), uintBitsToFloat(dqLoad(src, b + 3u)));
#elif defined(WTYPE_F16)
    const uint b = c.base + 4u * j;
    return vec4(dqHalf(dqLoad(src, b)), dqHalf(dqLoad(src, b + 1u)), dqHalf(dqLoad(src, b + 2u)),
                dqHalf(dqLoad(src, b + 3u)));
#elif defined(WTYPE_BF16)
    const uint b = c.base + 4u * j;
    return vec4(uintBitsToFloat(dqLoad(src, b) << 16), uintBitsToFloat(dqLoad(src, b + 1u) << 16),
                uintBitsToFloat(dqLoad(src, b + 2u) << 16), uintBitsToFloat(dqLoad(src, b + 3u) << 16));
#elif defined(WTYPE_Q4_0) || defined(WTYPE_Q4_1) || defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
    // Byte l (0..15) of qs: element l in the low nibble, element l + 16 in the high one.
#if defined(WTYPE_Q4_0)
    const uint qs = DQ_AT(c.base, VKI_Q4_0_OFFSET_QS);
#elif defined(WTYPE_Q4_1)
    const uint qs = DQ_AT(c.base, VKI_Q4_1_OFFSET_QS);
#elif defined(WTYPE_Q5_0)
    const uint qs = DQ_AT(c.base, VKI_Q5_0_OFFSET_QS);
#else
    const uint qs = DQ_AT(c.base, VKI_Q5_1_OFFSET_QS);
#endif
    uvec4 q = dqCodes(dqLoad32(src, qs + 2u * (j & 3u)), (j >> 2) * 4u, 0xFu);
#if defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
#if defined(WTYPE_Q5_0)
    const uint qh = dqLoad32(src, DQ_AT(c.base, VKI_Q5_0_OFFSET_QH));
#else
    const uint qh = dqLoad32(src, DQ_AT(c.base, VKI_Q5_1_OFFSET_QH));
#endif
    q |= ((uvec4(qh) >> (uvec4(0u, 1u, 2u, 3u) + 4u * j)) & 1u) << 4;
#endif
#if defined(WTYPE_Q4_0)
    return vec4(ivec4(q) - 8);
#elif defined(WTYPE_Q5_0)
    return vec4(ivec4(q) - 16);
#else
    return vec4(q);
#endif
#elif defined(WTYPE_Q8_0)
    const uint packed = dqLoad32(src, DQ_AT(c.base, VKI_Q8_0_OFFSET_QS) + 2u * j);
    return vec4(ivec4(uvec4(packed) << uvec4(24u, 16u, 8u, 0u)) >> 24);  // sign-extended bytes
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
    // Group g = sub / 2: qs bytes 32g + l, low nibble for even sub-blocks, high for odd.
    const uint g = c.sub >> 1;
#if defined(WTYPE_Q4_K)
    return vec4(dqCodes(dqLoad32(src, DQ_AT(c.base, VKI_Q4_K_OFFSET_QS) + 16u * g + 2u * j), (c.sub & 1u) * 4u, 0xFu));
#else
    uvec4 q = dqCodes(dqLoad32(src, DQ_AT(c.base, VKI_Q5_K_OFFSET_QS) + 16u * g + 2u * j), (c.sub & 1u) * 4u, 0xFu);
    q |= dqCodes(dqLoad32(src, DQ_AT(c.base, VKI_Q5_K_OFFSET_QH) + 2u * j), c.sub, 1u) << 4;
    return vec4(q);
#endif
#elif defined(WTYPE_Q6_K)
    // Sub-block 4h + k, element l = 4j + t: low bits in ql[64h + 32(k & 1) + l] (high
    // nibble for k >= 2), bits 4..5 at bit 2k of qh[32h + l].
    const uint h = c.sub >> 2;
    const uint k = c.sub & 3u;
    const uvec4 lo = dqCodes(dqLoad32(src, DQ_AT(c.base, VKI_Q6_K_OFFSET_QL) + 32u * h + 16u * (k & 1u) + 2u * j),
                             (k >> 1) * 4u, 0xFu);
    const uvec4 hi = dqCodes(dqLoad32(src, DQ_AT(c.base, VKI_Q6_K_OFFSET_QH) + 16u * h + 2u * j), 2u * k, 3u);
    return vec4(ivec4(lo | hi << 4) - 32);
#endif
}

// Elements 4j .. 4j + 3 of a chunk, bit-exact with quant::dequantize: the same
// multiply (and add) per element as ggml's dequantize_row_*, in the same order.
vec4 dqValues4(uint src, DqChunk c, uint j) {
#if defined(DQ_FLOAT_TYPE)
    return dqRaw4(src, c, j);
#elif defined(DQ_HAS_OFFSET)
    // Q4_1/Q5_1: q * d + m; Q4_K/Q5_K: step * q + (-offset) == step * q - offset.
    precise vec4 v = dqRaw4(src, c, j) * dqScale(c, j) + dqOffset(c);
    return v;
#else
    // No offset is added: + 0.0 would turn -0.0 into +0.0.
    precise vec4 v = dqRaw4(src, c, j) * dqScale(c, j);
    return v;
#endif
}

#if defined(DQ_FLOAT_TYPE)
// Element i of the row at word `row_base` (float types only: the partial last chunk).
float dqElement(uint src, uint row_base, uint i) {
#if defined(WTYPE_F32)
    return uintBitsToFloat(dqLoad(src, row_base + i));
#elif defined(WTYPE_F16)
    return dqHalf(dqLoad(src, row_base + i));
#else
    return uintBitsToFloat(dqLoad(src, row_base + i) << 16);
#endif
}
#endif

#endif
