// Block formats of GGUF tensors, byte-exact with ggml's ggml-common.h. This file
// compiles as GLSL and as C++: the host codecs (quant/*.cpp) and the dequant shaders
// read the same constants, so a layout is written down once.
//
// Every multi-byte field is little-endian. "f16" is an IEEE binary16 value. Offsets
// are in bytes from the start of a block; blocks are packed back to back with no
// padding, so block b of a row starts at b * <TYPE>_BLOCK_BYTES.
#ifndef VKI_QUANT_BLOCKS_H
#define VKI_QUANT_BLOCKS_H

// ---- plain floats: one element per "block" ------------------------------------
#define VKI_F32_BLOCK_ELEMENTS 1
#define VKI_F32_BLOCK_BYTES 4
#define VKI_F16_BLOCK_ELEMENTS 1
#define VKI_F16_BLOCK_BYTES 2
// bfloat16: the upper 16 bits of an IEEE binary32.
#define VKI_BF16_BLOCK_ELEMENTS 1
#define VKI_BF16_BLOCK_BYTES 2

// ---- 32-element blocks ---------------------------------------------------------
// In Q4_0/Q4_1/Q5_0/Q5_1, qs byte j (0..15) holds element j in its low nibble and
// element j + 16 in its high nibble. In Q5_0/Q5_1, bit k of the little-endian u32
// qh is bit 4 of element k's 5-bit code.

// Q4_0: x = (q - 8) * d, q in 0..15.
//   [0, 2)   d    f16
//   [2, 18)  qs   16 bytes of nibbles
#define VKI_Q4_0_BLOCK_ELEMENTS 32
#define VKI_Q4_0_BLOCK_BYTES 18
#define VKI_Q4_0_OFFSET_D 0
#define VKI_Q4_0_OFFSET_QS 2

// Q4_1: x = q * d + m, q in 0..15.
//   [0, 2)   d    f16
//   [2, 4)   m    f16
//   [4, 20)  qs   16 bytes of nibbles
#define VKI_Q4_1_BLOCK_ELEMENTS 32
#define VKI_Q4_1_BLOCK_BYTES 20
#define VKI_Q4_1_OFFSET_D 0
#define VKI_Q4_1_OFFSET_M 2
#define VKI_Q4_1_OFFSET_QS 4

// Q5_0: x = (q - 16) * d, q in 0..31.
//   [0, 2)   d    f16
//   [2, 6)   qh   u32, bit k = bit 4 of element k
//   [6, 22)  qs   16 bytes of nibbles (bits 0..3)
#define VKI_Q5_0_BLOCK_ELEMENTS 32
#define VKI_Q5_0_BLOCK_BYTES 22
#define VKI_Q5_0_OFFSET_D 0
#define VKI_Q5_0_OFFSET_QH 2
#define VKI_Q5_0_OFFSET_QS 6

// Q5_1: x = q * d + m, q in 0..31.
//   [0, 2)   d    f16
//   [2, 4)   m    f16
//   [4, 8)   qh   u32, bit k = bit 4 of element k
//   [8, 24)  qs   16 bytes of nibbles (bits 0..3)
#define VKI_Q5_1_BLOCK_ELEMENTS 32
#define VKI_Q5_1_BLOCK_BYTES 24
#define VKI_Q5_1_OFFSET_D 0
#define VKI_Q5_1_OFFSET_M 2
#define VKI_Q5_1_OFFSET_QH 4
#define VKI_Q5_1_OFFSET_QS 8

// Q8_0: x = q * d, q an int8.
//   [0, 2)   d    f16
//   [2, 34)  qs   32 x int8, element k at byte 2 + k
#define VKI_Q8_0_BLOCK_ELEMENTS 32
#define VKI_Q8_0_BLOCK_BYTES 34
#define VKI_Q8_0_OFFSET_D 0
#define VKI_Q8_0_OFFSET_QS 2

// ---- K-quants: 256-element super-blocks ----------------------------------------
#define VKI_QK_K 256
// Bytes of the packed 6-bit scales and mins of Q4_K/Q5_K.
#define VKI_K_SCALE_SIZE 12

// Q4_K and Q5_K share one scheme: 8 sub-blocks of 32 elements, sub-block s has a
// 6-bit scale sc[s] and a 6-bit min mn[s], and x = d * sc[s] * q - dmin * mn[s].
// The 12 scale bytes pack them as (bit ranges of each byte):
//   s < 4:  sc[s] = scales[s] & 63        mn[s] = scales[s + 4] & 63
//   s >= 4: sc[s] = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4
//           mn[s] = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4
// Elements are grouped by 64: group g (elements 64g .. 64g + 63) uses qs bytes
// 32g .. 32g + 31. Byte 32g + l holds element 64g + l (sub-block 2g) in its low
// nibble and element 64g + 32 + l (sub-block 2g + 1) in its high nibble.

// Q4_K: q in 0..15.
//   [0, 2)     d       f16, scale of the 6-bit scales
//   [2, 4)     dmin    f16, scale of the 6-bit mins
//   [4, 16)    scales  12 bytes, packed as above
//   [16, 144)  qs      128 bytes of nibbles
#define VKI_Q4_K_BLOCK_ELEMENTS 256
#define VKI_Q4_K_BLOCK_BYTES 144
#define VKI_Q4_K_OFFSET_D 0
#define VKI_Q4_K_OFFSET_DMIN 2
#define VKI_Q4_K_OFFSET_SCALES 4
#define VKI_Q4_K_OFFSET_QS 16

// Q5_K: q in 0..31; the nibbles as in Q4_K give bits 0..3. qh byte l (0..31) gives
// bit 4: its bit 2g for element 64g + l and bit 2g + 1 for element 64g + 32 + l.
//   [0, 2)     d       f16
//   [2, 4)     dmin    f16
//   [4, 16)    scales  12 bytes, packed as above
//   [16, 48)   qh      32 bytes of high bits
//   [48, 176)  qs      128 bytes of nibbles
#define VKI_Q5_K_BLOCK_ELEMENTS 256
#define VKI_Q5_K_BLOCK_BYTES 176
#define VKI_Q5_K_OFFSET_D 0
#define VKI_Q5_K_OFFSET_DMIN 2
#define VKI_Q5_K_OFFSET_SCALES 4
#define VKI_Q5_K_OFFSET_QH 16
#define VKI_Q5_K_OFFSET_QS 48

// Q6_K: 16 sub-blocks of 16 elements, x = d * scales[e / 16] * (q - 32), q in 0..63,
// scales int8. Element e = 128h + 32k + l (h in 0..1, k in 0..3, l in 0..31) has
//   bits 0..3: ql[64h + 32 * (k & 1) + l], low nibble for k < 2, high nibble for k >= 2
//   bits 4..5: bits 2k .. 2k + 1 of qh[32h + l]
//   [0, 128)    ql      128 bytes of nibbles
//   [128, 192)  qh      64 bytes of 2-bit pairs
//   [192, 208)  scales  16 x int8
//   [208, 210)  d       f16
#define VKI_Q6_K_BLOCK_ELEMENTS 256
#define VKI_Q6_K_BLOCK_BYTES 210
#define VKI_Q6_K_OFFSET_QL 0
#define VKI_Q6_K_OFFSET_QH 128
#define VKI_Q6_K_OFFSET_SCALES 192
#define VKI_Q6_K_OFFSET_D 208

#ifdef __cplusplus
// Each layout's fields tile its block exactly.
static_assert(VKI_Q4_0_OFFSET_QS + VKI_Q4_0_BLOCK_ELEMENTS / 2 == VKI_Q4_0_BLOCK_BYTES);
static_assert(VKI_Q4_1_OFFSET_QS + VKI_Q4_1_BLOCK_ELEMENTS / 2 == VKI_Q4_1_BLOCK_BYTES);
static_assert(VKI_Q5_0_OFFSET_QS - VKI_Q5_0_OFFSET_QH == 4);
static_assert(VKI_Q5_0_OFFSET_QS + VKI_Q5_0_BLOCK_ELEMENTS / 2 == VKI_Q5_0_BLOCK_BYTES);
static_assert(VKI_Q5_1_OFFSET_QS - VKI_Q5_1_OFFSET_QH == 4);
static_assert(VKI_Q5_1_OFFSET_QS + VKI_Q5_1_BLOCK_ELEMENTS / 2 == VKI_Q5_1_BLOCK_BYTES);
static_assert(VKI_Q8_0_OFFSET_QS + VKI_Q8_0_BLOCK_ELEMENTS == VKI_Q8_0_BLOCK_BYTES);
static_assert(VKI_Q4_K_OFFSET_QS - VKI_Q4_K_OFFSET_SCALES == VKI_K_SCALE_SIZE);
static_assert(VKI_Q4_K_OFFSET_QS + VKI_QK_K / 2 == VKI_Q4_K_BLOCK_BYTES);
static_assert(VKI_Q5_K_OFFSET_QH - VKI_Q5_K_OFFSET_SCALES == VKI_K_SCALE_SIZE);
static_assert(VKI_Q5_K_OFFSET_QS - VKI_Q5_K_OFFSET_QH == VKI_QK_K / 8);
static_assert(VKI_Q5_K_OFFSET_QS + VKI_QK_K / 2 == VKI_Q5_K_BLOCK_BYTES);
static_assert(VKI_Q6_K_OFFSET_QH - VKI_Q6_K_OFFSET_QL == VKI_QK_K / 2);
static_assert(VKI_Q6_K_OFFSET_SCALES - VKI_Q6_K_OFFSET_QH == VKI_QK_K / 4);
static_assert(VKI_Q6_K_OFFSET_D - VKI_Q6_K_OFFSET_SCALES == VKI_QK_K / 16);
static_assert(VKI_Q6_K_OFFSET_D + 2 == VKI_Q6_K_BLOCK_BYTES);
#endif

#endif
