#version 450
#extension GL_GOOGLE_include_directive : require
// Integer dot-product matrix product for Q8_0 / Q4_0 weights and q8_1-quantized
// activations (ops::recordMatMulQ8_1, the prefill path where the device has
// shaderIntegerDotProduct):
//   y[c][row0 + r] (=|+=) epilogue(W[r] . x[c])  for r < rows, c < n,
// with x[c] given as quantize_q8_1.comp's blocks (d_x, s_x = d_x * sum(q_x), codes q_x).
// Per 32-element block the weights are d_w * q_w (Q8_0) or d_w * (q_w - 8) (Q4_0), so
//   Q8_0: d_w * (d_x * dot(q_w, q_x))
//   Q4_0: d_w * (d_x * dot(q_w, q_x) - 8 * s_x)      (q_w in 0..15: the offset via s_x)
// where dot is eight packed 4 x int8 dot products (OpSDot, SPV_KHR_integer_dot_product,
// declared through GL_EXT_spirv_intrinsics: this glslang lacks GL_EXT_integer_dot_product).
// A workgroup computes a BM x BN tile of (rows x columns), BKB blocks of k per step
// staged in shared memory as packed codes; invocation (tx, ty) owns rows tx + i * BM / TM
// and columns ty + j * BN / TN (i < TM, j < TN), so adjacent invocations read adjacent
// shared words. Rows past the slab re-read its last row and columns past n the last
// column; their results are never written.
// Variants: WTYPE_Q4_0 | WTYPE_Q8_0, and GLU for the SwiGLU epilogue.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_spirv_intrinsics : require
#include "common/common.glsl"
#include "common/dequant.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;  // (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 32;              // rows per tile
layout(constant_id = 2) const uint BN = 32;              // columns per tile
layout(constant_id = 3) const uint TM = 4;               // rows per invocation
layout(constant_id = 4) const uint TN = 4;               // columns per invocation
layout(constant_id = 5) const uint BKB = 2;              // 32-element blocks per k step
layout(constant_id = 6) const uint HAS_BIAS = 0;         // + bias[row0 + r]
layout(constant_id = 7) const uint ACCUMULATE = 0;       // y += instead of y =

#if defined(GLU)
const uint NMAT = 2;  // W (gate) and up
#else
const uint NMAT = 1;
#endif

#if defined(WTYPE_Q4_0)
const uint kWordItems = 4;  // 32-bit loads of codes per block: 16 bytes of nibbles
const uint kQsOffset = VKI_Q4_0_OFFSET_QS;
#else
const uint kWordItems = 8;  // 32 bytes of codes
const uint kQsOffset = VKI_Q8_0_OFFSET_QS;
#endif

// OpSDot with PackedVectorFormat4x8Bit: the sum of the four signed byte products.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int dot4x8(uint a, uint b, spirv_literal int packed_vector_format);

layout(std430, binding = 0) readonly buffer W { DQ_WORD w[]; };
layout(std430, binding = 1) readonly buffer Q { uint q[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
#if defined(GLU)
layout(std430, binding = 4) readonly buffer Up { DQ_WORD up[]; };
#endif
layout(push_constant) uniform Push { MatMulQ8_1Params p; };

uint dqLoad(uint src, uint index) {
#if defined(GLU)
    if (src != 0u) return uint(up[index]);
#endif
    return uint(w[index]);
}

// One k step: [matrix][block][word][row] packed weight codes, [matrix][block][row]
// weight scales, [block][word][column] packed activation codes, [block][column] (d, s).
shared uint tile_w[NMAT * BKB * 8 * BM];
shared float tile_wd[NMAT * BKB * BM];
shared uint tile_x[BKB * 8 * BN];
shared vec2 tile_xd[BKB * BN];

float silu(float v) { return v / (1.0 + exp(-v)); }

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % (BM / TM);
    const uint ty = tid / (BM / TM);
    const uint tile_row = gl_WorkGroupID.x * BM;
    const uint tile_col = gl_WorkGroupID.y * BN;
    const uint kb = p.k / 32u;
    const uint x_scales = p.n * kb * 8u;  // word index of the (d, s) pairs

    float acc[NMAT * TM * TN];
    [[unroll]] for (uint i = 0; i < NMAT * TM * TN; ++i) acc[i] = 0.0;

    for (uint b0 = 0; b0 < kb; b0 += BKB) {
        const uint steps = min(BKB, kb - b0);
        // Weights: one 32-bit load of codes per item (Q8_0: 4 codes, Q4_0: 8 nibbles).
        for (uint item = tid; item < NMAT * BM * BKB * kWordItems; item += kWorkgroupSize) {
            const uint word = item % kWordItems;
            const uint r = (item / kWordItems) % BM;
            const uint bb = (item / (kWordItems * BM)) % BKB;
            const uint m = item / (kWordItems * BM * BKB);
            if (bb >= steps) continue;
            const uint base = min(tile_row + r, p.rows - 1u) * p.row_words + (b0 + bb) * DQ_BLOCK_WORDS;
            const uint packed = dqLoad32(m, DQ_AT(base, kQsOffset) + 2u * word);
            const uint slot = (m * BKB + bb) * 8u;
#if defined(WTYPE_Q4_0)
            // Byte l of qs: element l in the low nibble, l + 16 in the high one.
            tile_w[(slot + word) * BM + r] = packed & 0x0F0F0F0Fu;
            tile_w[(slot + word + 4u) * BM + r] = (packed >> 4) & 0x0F0F0F0Fu;
#else
            tile_w[(slot + word) * BM + r] = packed;
#endif
            if (word == 0u) tile_wd[(m * BKB + bb) * BM + r] = dqHalf(dqLoad(m, base));  // d at offset 0
        }
        for (uint item = tid; item < BN * BKB * 8u; item += kWorkgroupSize) {
            const uint word = item % 8u;
            const uint c = (item / 8u) % BN;
            const uint bb = item / (8u * BN);
            if (bb >= steps) continue;
            const uint block = min(tile_col + c, p.n - 1u) * kb + b0 + bb;
            tile_x[(bb * 8u + word) * BN + c] = q[block * 8u + word];
            if (word == 0u)
                tile_xd[bb * BN + c] = vec2(uintBitsToFloat(q[x_scales + 2u * block]),
                                            uintBitsToFloat(q[x_scales + 2u * block + 1u]));
        }
        barrier();

        for (uint bb = 0; bb < steps; ++bb) {
            int isum[NMAT * TM * TN];
            [[unroll]] for (uint i = 0; i < NMAT * TM * TN; ++i) isum[i] = 0;
            [[unroll]] for (uint word = 0; word < 8u; ++word) {
                uint xw[TN];
                [[unroll]] for (uint j = 0; j < TN; ++j) xw[j] = tile_x[(bb * 8u + word) * BN + ty + j * (BN / TN)];
                [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                    [[unroll]] for (uint i = 0; i < TM; ++i) {
                        const uint ww = tile_w[((m * BKB + bb) * 8u + word) * BM + tx + i * (BM / TM)];
                        [[unroll]] for (uint j = 0; j < TN; ++j) isum[(m * TM + i) * TN + j] += dot4x8(ww, xw[j], 0);
                    }
                }
            }
            vec2 xd[TN];
            [[unroll]] for (uint j = 0; j < TN; ++j) xd[j] = tile_xd[bb * BN + ty + j * (BN / TN)];
            [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                [[unroll]] for (uint i = 0; i < TM; ++i) {
                    const float wd = tile_wd[(m * BKB + bb) * BM + tx + i * (BM / TM)];
                    [[unroll]] for (uint j = 0; j < TN; ++j) {
                        const uint s = (m * TM + i) * TN + j;
#if defined(WTYPE_Q4_0)
                        acc[s] += wd * (xd[j].x * float(isum[s]) - 8.0 * xd[j].y);
#else
                        acc[s] += wd * (xd[j].x * float(isum[s]));
#endif
                    }
                }
            }
        }
        barrier();  // the next step overwrites the tiles
    }

    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint row = tile_row + tx + i * (BM / TM);
        if (row >= p.rows) continue;
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint c = tile_col + ty + j * (BN / TN);
            if (c >= p.n) continue;
            float v = acc[i * TN + j];
            if (HAS_BIAS != 0u) v += bias[p.row0 + row];
#if defined(GLU)
            v = silu(v) * acc[(TM + i) * TN + j];
#endif
            const uint o = c * p.y_stride + p.row0 + row;
            y[o] = ACCUMULATE != 0u ? y[o] + v : v;
        }
    }
}
