#version 450
#extension GL_GOOGLE_include_directive : require
// Fused-dequant matrix-matrix product, the prefill kernel (ops::recordMatMul):
//   y[c][row0 + r] (=|+=) epilogue(W[r] . x[c])  for r < rows, c < n.
// A workgroup computes a BM x BN tile of y: BM weight rows (gl_WorkGroupID.x) by BN
// columns (gl_WorkGroupID.y). For each BK-element step along k it decodes the BM x BK
// weight tile into shared memory, each weight once per workgroup (dqValues4: exactly
// quant::dequantize's values), and stages the BN x BK tile of x beside it; then each
// invocation accumulates a TM x TN micro-tile of the output in registers. Rows,
// columns and elements past the ends of W, x and k are zeros in shared memory, so
// the inner loop has no bounds checks; only the tile's valid outputs are written.
// Variants: one WTYPE_* (common/dequant.glsl), GLU for the SwiGLU epilogue, and
// COOPMAT: the tiles held as fp16 and multiplied by cooperative matrices
// (GL_NV_cooperative_matrix, fp32 accumulation): the subgroups form an SG_M x
// (SUBGROUPS / SG_M) grid over the tile, each owning CM_BM x CM_BN blocks of
// CM_M x CM_N, and write them out through a slot of shared memory.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#if defined(COOPMAT)
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "common/common.glsl"
#include "common/dequant.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 256;  // (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;               // weight rows per tile
layout(constant_id = 2) const uint BN = 64;               // columns per tile
layout(constant_id = 3) const uint BK = 32;               // k per step, a multiple of 32
layout(constant_id = 4) const uint TM = 4;                // rows per invocation, a multiple of 4
layout(constant_id = 5) const uint TN = 4;                // columns per invocation, a multiple of 4
layout(constant_id = 6) const uint CHUNK_THREADS = 4;     // decoding invocations per chunk: 1, 2, 4 or 8
layout(constant_id = 7) const uint HAS_BIAS = 0;          // + bias[row0 + r]
layout(constant_id = 8) const uint ACCUMULATE = 0;        // y += instead of y =
#if defined(COOPMAT)
layout(constant_id = 9) const uint CM_M = 16;             // cooperative matrix shape (a device's)
layout(constant_id = 10) const uint CM_N = 16;
layout(constant_id = 11) const uint CM_K = 16;
layout(constant_id = 12) const uint CM_BM = 2;            // block rows per subgroup
layout(constant_id = 13) const uint CM_BN = 2;            // block columns per subgroup
layout(constant_id = 14) const uint SUBGROUPS = 8;        // kWorkgroupSize / subgroup size
layout(constant_id = 15) const uint SG_M = 2;             // subgroups along the rows: BM = SG_M * CM_BM * CM_M
#endif

#if defined(GLU)
const uint NMAT = 2;  // W (gate) and up
#else
const uint NMAT = 1;
#endif

layout(std430, binding = 0) readonly buffer W { DQ_WORD w[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
#if defined(GLU)
layout(std430, binding = 4) readonly buffer Up { DQ_WORD up[]; };
#endif
layout(push_constant) uniform Push { MatMulParams p; };

uint dqLoad(uint src, uint index) {
#if defined(GLU)
    if (src != 0u) return uint(up[index]);
#endif
    return uint(w[index]);
}

#if defined(COOPMAT)
// Tiles k-major in fp16, rows padded by 8 halves (16 bytes, the alignment of the
// cooperative loads): w_tile[m][kk][r] (NMAT, BK, BM + 8), x_tile[kk][c] (BK, BN + 8).
const uint kWStride = BM + 8u;
const uint kXStride = BN + 8u;
shared float16_t w_tile[NMAT * BK * kWStride];
shared float16_t x_tile[BK * kXStride];
shared float c_slot[SUBGROUPS * CM_M * CM_N];  // one finished block per subgroup, column-major
void putW(uint m, uint kk, uint r, float v) { w_tile[(m * BK + kk) * kWStride + r] = float16_t(v); }
void putX(uint kk, uint c, float v) { x_tile[kk * kXStride + c] = float16_t(v); }
#else
// Tiles k-major, as vec4s so that an invocation reads 4 rows or 4 columns at once:
//   w_tile[m][kk][r / 4][r % 4] (NMAT, BK, BM / 4), x_tile[kk][c / 4][c % 4] (BK, BN / 4).
const uint kWQuads = BM / 4u;
const uint kXQuads = BN / 4u;
shared vec4 w_tile[NMAT * BK * kWQuads];
shared vec4 x_tile[BK * kXQuads];
void putW(uint m, uint kk, uint r, float v) { w_tile[(m * BK + kk) * kWQuads + r / 4u][r % 4u] = v; }
void putX(uint kk, uint c, float v) { x_tile[kk * kXQuads + c / 4u][c % 4u] = v; }
#endif

float silu(float v) { return v / (1.0 + exp(-v)); }

// Invocation `tid` decodes part `part` of chunks of the tile's rows: 4-element groups
// j = part, part + CHUNK_THREADS, ... (neighbouring invocations, neighbouring bytes).
void decodeWeights(uint tid, uint first_row, uint k0) {
    const uint kChunks = BK / DQ_CHUNK;  // chunks of a row per step
    const uint full_chunks = p.k / DQ_CHUNK;
    for (uint item = tid; item < BM * kChunks * CHUNK_THREADS; item += kWorkgroupSize) {
        const uint part = item % CHUNK_THREADS;
        const uint lc = (item / CHUNK_THREADS) % kChunks;
        const uint r = item / (CHUNK_THREADS * kChunks);
        const uint row = first_row + r;
        const uint ch = k0 / DQ_CHUNK + lc;
        [[unroll]] for (uint m = 0; m < NMAT; ++m) {
            const uint kk0 = lc * DQ_CHUNK;
            if (row < p.rows && ch < full_chunks) {
                const DqChunk c = dqChunk(m, row * p.row_words, ch);
                [[unroll]] for (uint jj = 0; jj < DQ_CHUNK / 4 / CHUNK_THREADS; ++jj) {
                    const uint j = part + jj * CHUNK_THREADS;
                    const vec4 v = dqValues4(m, c, j);
                    [[unroll]] for (uint t = 0; t < 4; ++t) putW(m, kk0 + 4u * j + t, r, v[t]);
                }
            } else {
                // Past the slab's rows or the row's end, or (plain floats only) a
                // partial last chunk: element by element, zeros outside.
                [[unroll]] for (uint jj = 0; jj < DQ_CHUNK / 4 / CHUNK_THREADS; ++jj) {
                    const uint j = part + jj * CHUNK_THREADS;
                    [[unroll]] for (uint t = 0; t < 4; ++t) {
                        float v = 0.0;
#if defined(DQ_FLOAT_TYPE)
                        const uint i = ch * DQ_CHUNK + 4u * j + t;
                        if (row < p.rows && i < p.k) v = dqElement(m, row * p.row_words, i);
#endif
                        putW(m, kk0 + 4u * j + t, r, v);
                    }
                }
            }
        }
    }
}

// x_tile[kk][c] = x[first_col + c][k0 + kk]; neighbouring invocations read neighbouring floats.
void stageColumns(uint tid, uint first_col, uint k0) {
    for (uint e = tid; e < BN * BK; e += kWorkgroupSize) {
        const uint kk = e % BK;
        const uint c = e / BK;
        const uint col = first_col + c;
        const uint i = k0 + kk;
        float v = 0.0;
        if (col < p.n && i < p.k) v = x[col * p.x_stride + i];
        putX(kk, c, v);
    }
}

// y[col][row0 + row] = epilogue(gate, up) for a valid (row, col).
void writeOutput(uint row, uint col, float gate, float up_value) {
    float v = gate;
    if (HAS_BIAS != 0u) v += bias[p.row0 + row];
#if defined(GLU)
    v = silu(v) * up_value;
#endif
    const uint o = col * p.y_stride + p.row0 + row;
    y[o] = ACCUMULATE != 0u ? y[o] + v : v;
}

#if defined(COOPMAT)
void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint first_row = gl_WorkGroupID.x * BM;
    const uint first_col = gl_WorkGroupID.y * BN;
    // Subgroup sg owns block rows (sg % SG_M) * CM_BM + i and block columns
    // (sg / SG_M) * CM_BN + j of the tile.
    const uint sg = gl_SubgroupID;
    const uint block_row0 = (sg % SG_M) * CM_BM;
    const uint block_col0 = (sg / SG_M) * CM_BN;

    // acc[(m * CM_BM + i) * CM_BN + j]: matrix m, block (i, j) of the subgroup's.
    fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N> acc[NMAT * CM_BM * CM_BN];
    [[unroll]] for (uint b = 0; b < NMAT * CM_BM * CM_BN; ++b) {
        acc[b] = fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N>(0.0);
    }

    for (uint k0 = 0; k0 < p.k; k0 += BK) {
        barrier();  // the previous step's tiles are consumed
        decodeWeights(tid, first_row, k0);
        stageColumns(tid, first_col, k0);
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk += CM_K) {
            fcoopmatNV<16, gl_ScopeSubgroup, CM_K, CM_N> xb[CM_BN];
            [[unroll]] for (uint j = 0; j < CM_BN; ++j) {
                coopMatLoadNV(xb[j], x_tile, kk * kXStride + (block_col0 + j) * CM_N, kXStride, false);
            }
            [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                [[unroll]] for (uint i = 0; i < CM_BM; ++i) {
                    fcoopmatNV<16, gl_ScopeSubgroup, CM_M, CM_K> wb;
                    coopMatLoadNV(wb, w_tile, (m * BK + kk) * kWStride + (block_row0 + i) * CM_M, kWStride, true);
                    [[unroll]] for (uint j = 0; j < CM_BN; ++j) {
                        const uint a = (m * CM_BM + i) * CM_BN + j;
                        acc[a] = coopMatMulAddNV(wb, xb[j], acc[a]);
                    }
                }
            }
        }
    }

    // Each block through the subgroup's slot: lane l takes elements l, l + subgroup
    // size, ... (column-major, so neighbouring lanes write neighbouring rows of y).
    const uint slot = sg * CM_M * CM_N;
    const uint kPerLane = (CM_M * CM_N + gl_SubgroupSize - 1) / gl_SubgroupSize;
    [[unroll]] for (uint b = 0; b < CM_BM * CM_BN; ++b) {
        const uint block_row = first_row + (block_row0 + b / CM_BN) * CM_M;
        const uint block_col = first_col + (block_col0 + b % CM_BN) * CM_N;
        float gate[16];  // kPerLane <= 16: the host keeps blocks within 16 values per lane
        [[unroll]] for (uint m = 0; m < NMAT; ++m) {
            subgroupBarrier();  // the slot's previous contents are consumed
            coopMatStoreNV(acc[m * CM_BM * CM_BN + b], c_slot, slot, CM_M, true);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint e = 0; e < kPerLane; ++e) {
                const uint i = gl_SubgroupInvocationID + e * gl_SubgroupSize;
                if (i >= CM_M * CM_N) break;
                const float v = c_slot[slot + i];
                const uint row = block_row + i % CM_M;
                const uint col = block_col + i / CM_M;
                if (m + 1 < NMAT) {
                    gate[e] = v;
                } else if (row < p.rows && col < p.n) {
                    writeOutput(row, col, NMAT == 2 ? gate[e] : v, v);
                }
            }
        }
    }
}
#else
void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint first_row = gl_WorkGroupID.x * BM;
    const uint first_col = gl_WorkGroupID.y * BN;
    // Invocation (tr, tc) owns rows tr * TM .. + TM - 1 and columns tc * TN .. + TN - 1
    // of the tile; neighbouring invocations read neighbouring vec4s of w_tile.
    const uint tr = tid % (BM / TM);
    const uint tc = tid / (BM / TM);

    // acc[(m * TM + i) * TN / 4 + j / 4][j % 4]: matrix m, row i, column j of the micro-tile.
    vec4 acc[NMAT * TM * TN / 4];
    [[unroll]] for (uint s = 0; s < NMAT * TM * TN / 4; ++s) acc[s] = vec4(0.0);

    for (uint k0 = 0; k0 < p.k; k0 += BK) {
        barrier();  // the previous step's tiles are consumed
        decodeWeights(tid, first_row, k0);
        stageColumns(tid, first_col, k0);
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            vec4 b[TN / 4];
            [[unroll]] for (uint j = 0; j < TN / 4; ++j) b[j] = x_tile[kk * kXQuads + tc * (TN / 4) + j];
            [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                [[unroll]] for (uint i4 = 0; i4 < TM / 4; ++i4) {
                    const vec4 a = w_tile[(m * BK + kk) * kWQuads + tr * (TM / 4) + i4];
                    [[unroll]] for (uint i = 0; i < 4; ++i) {
                        [[unroll]] for (uint j = 0; j < TN / 4; ++j) {
                            acc[(m * TM + i4 * 4 + i) * (TN / 4) + j] += a[i] * b[j];
                        }
                    }
                }
            }
        }
    }

    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint row = first_row + tr * TM + i;
        if (row >= p.rows) continue;
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint col = first_col + tc * TN + j;
            if (col >= p.n) continue;
            writeOutput(row, col, acc[i * (TN / 4) + j / 4][j % 4], acc[(NMAT - 1) * TM * (TN / 4) + i * (TN / 4) + j / 4][j % 4]);
        }
    }
}
#endif
