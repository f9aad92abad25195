#version 450
#extension GL_GOOGLE_include_directive : require
// Fused-dequant matrix-vector product, the decode kernel (ops::MatVecArgs):
//   y[c][row0 + r] (=|+=) epilogue(W[r] . prologue(x[c]))  for r < rows, c < NCOLS.
// A workgroup owns ROWS consecutive rows. Its invocations stride over the rows'
// 32-element chunks, CHUNK_THREADS invocations to a chunk (adjacent invocations,
// adjacent bytes: coalesced reads); each weight is decoded once and applied to all
// NCOLS columns, and each 4-element group of x is loaded once for all ROWS rows.
// Block scales multiply dot products of raw codes (dequant.glsl's dqRaw4), not each
// weight. Partial sums are reduced with subgroupAdd, then across subgroups in
// shared memory.
// Variants: one WTYPE_* (common/dequant.glsl), and GLU for the SwiGLU epilogue.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require
#include "common/common.glsl"
#include "common/dequant.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 1) const uint ROWS = 2;           // rows per workgroup
layout(constant_id = 2) const uint NCOLS = 1;          // activation columns, 1..8
layout(constant_id = 3) const uint HAS_NORM = 0;       // RMSNorm prologue
layout(constant_id = 4) const uint HAS_BIAS = 0;       // + bias[row0 + r]
layout(constant_id = 5) const uint ACCUMULATE = 0;     // y += instead of y =
layout(constant_id = 6) const uint MAX_SUBGROUPS = 64; // >= subgroups per workgroup
layout(constant_id = 7) const uint CHUNK_THREADS = 4;  // invocations per chunk: 1, 2, 4 or 8

#if defined(GLU)
const uint NMAT = 2;  // W (gate) and up
#else
const uint NMAT = 1;
#endif

layout(std430, binding = 0) readonly buffer W { DQ_WORD w[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer Norm { float norm[]; };
layout(std430, binding = 4) readonly buffer Bias { float bias[]; };
#if defined(GLU)
layout(std430, binding = 5) readonly buffer Up { DQ_WORD up[]; };
#endif
layout(push_constant) uniform Push { MatVecParams p; };

uint dqLoad(uint src, uint index) {
#if defined(GLU)
    if (src != 0u) return uint(up[index]);
#endif
    return uint(w[index]);
}

// Partial sums of every (matrix, row, column), one slot set per subgroup; the norm
// prologue uses the first NCOLS slots of each set first.
const uint kSums = NMAT * ROWS * NCOLS;
shared float partials[MAX_SUBGROUPS * kSums];
shared float col_scale[NCOLS];

float silu(float v) { return v / (1.0 + exp(-v)); }

// x'[c][i .. i + 3] without the per-column RMS scale (applied to the finished sums).
vec4 loadX4(uint c, uint i) {
    const uint o = c * p.x_stride + i;
    vec4 v = vec4(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
    if (HAS_NORM != 0u) v *= vec4(norm[i], norm[i + 1u], norm[i + 2u], norm[i + 3u]);
    return v;
}

// col_scale[c] = 1 / sqrt(mean(x[c]^2) + eps), for every column.
void computeColumnScales() {
    [[unroll]] for (uint c = 0; c < NCOLS; ++c) {
        float s = 0.0;
        for (uint i = gl_LocalInvocationID.x; i < p.k; i += kWorkgroupSize) {
            const float v = x[c * p.x_stride + i];
            s += v * v;
        }
        s = subgroupAdd(s);
        if (subgroupElect()) partials[gl_SubgroupID * kSums + c] = s;
    }
    barrier();
    for (uint c = gl_LocalInvocationID.x; c < NCOLS; c += kWorkgroupSize) {
        float s = 0.0;
        for (uint g = 0; g < gl_NumSubgroups; ++g) s += partials[g * kSums + c];
        col_scale[c] = 1.0 / sqrt(s / float(p.k) + p.eps);
    }
    barrier();
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    // 2D grid: the row count can exceed maxComputeWorkGroupCount[0] workgroups.
    const uint first_row = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
    if (first_row >= p.rows) return;  // whole workgroup: barriers below stay uniform

    if (HAS_NORM != 0u) computeColumnScales();

    // Word index of each row; rows past the slab's end re-read the last row (their
    // sums are dropped) so the loops below stay uniform.
    uint row_base[ROWS];
    [[unroll]] for (uint r = 0; r < ROWS; ++r) row_base[r] = min(first_row + r, p.rows - 1u) * p.row_words;

    float acc[kSums];
    [[unroll]] for (uint s = 0; s < kSums; ++s) acc[s] = 0.0;

    // Invocation `tid` takes part `part` of chunk `ch`: its 4-element groups j = part,
    // part + CHUNK_THREADS, ... (for the nibble formats, j and j + 4 share bytes). With
    // several invocations per chunk a subgroup's loads cover a short contiguous span.
    const uint full_chunks = p.k / DQ_CHUNK;
    const uint items = full_chunks * CHUNK_THREADS;
    for (uint item = tid; item < items; item += kWorkgroupSize) {
        const uint ch = item / CHUNK_THREADS;
        const uint part = item % CHUNK_THREADS;
        DqChunk chunk[NMAT * ROWS];
        [[unroll]] for (uint m = 0; m < NMAT; ++m) {
            [[unroll]] for (uint r = 0; r < ROWS; ++r) chunk[m * ROWS + r] = dqChunk(m, row_base[r], ch);
        }
        [[unroll]] for (uint jj = 0; jj < DQ_CHUNK / 4 / CHUNK_THREADS; ++jj) {
            const uint j = part + jj * CHUNK_THREADS;
            vec4 xv[NCOLS];
            [[unroll]] for (uint c = 0; c < NCOLS; ++c) xv[c] = loadX4(c, ch * DQ_CHUNK + 4u * j);
#if defined(DQ_HAS_OFFSET)
            // w = scale * raw + offset: the offset meets sum(x) once per 4 elements.
            float xsum[NCOLS];
            [[unroll]] for (uint c = 0; c < NCOLS; ++c) xsum[c] = dot(xv[c], vec4(1.0));
#endif
            [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                [[unroll]] for (uint r = 0; r < ROWS; ++r) {
                    const DqChunk cr = chunk[m * ROWS + r];
                    const vec4 raw = dqRaw4(m, cr, j);
                    const float scale = dqScale(cr, j);
                    [[unroll]] for (uint c = 0; c < NCOLS; ++c) {
                        float v = scale * dot(raw, xv[c]);
#if defined(DQ_HAS_OFFSET)
                        v += dqOffset(cr) * xsum[c];
#endif
                        acc[(m * ROWS + r) * NCOLS + c] += v;
                    }
                }
            }
        }
    }

#if defined(DQ_FLOAT_TYPE)
    // Plain-float rows may end in a partial chunk: one invocation (the next in turn)
    // takes its elements one by one.
    const uint tail = p.k - full_chunks * DQ_CHUNK;
    if (tail != 0u && tid == items % kWorkgroupSize) {
        for (uint e = 0; e < tail; ++e) {
            const uint i = full_chunks * DQ_CHUNK + e;
            const float g = HAS_NORM != 0u ? norm[i] : 1.0;
            [[unroll]] for (uint c = 0; c < NCOLS; ++c) {
                const float xc = x[c * p.x_stride + i] * g;
                [[unroll]] for (uint m = 0; m < NMAT; ++m) {
                    [[unroll]] for (uint r = 0; r < ROWS; ++r) {
                        acc[(m * ROWS + r) * NCOLS + c] += dqElement(m, row_base[r], i) * xc;
                    }
                }
            }
        }
    }
#endif

    [[unroll]] for (uint s = 0; s < kSums; ++s) {
        const float v = subgroupAdd(acc[s]);
        if (subgroupElect()) partials[gl_SubgroupID * kSums + s] = v;
    }
    barrier();

    // Epilogue: one invocation per (row, column).
    for (uint s = tid; s < ROWS * NCOLS; s += kWorkgroupSize) {
        const uint r = s / NCOLS;
        const uint c = s % NCOLS;
        const uint row = first_row + r;
        if (row >= p.rows) continue;
        float sum = 0.0;
        for (uint g = 0; g < gl_NumSubgroups; ++g) sum += partials[g * kSums + s];
        const float scale = HAS_NORM != 0u ? col_scale[c] : 1.0;
        float v = sum * scale;
        if (HAS_BIAS != 0u) v += bias[p.row0 + row];
#if defined(GLU)
        float up_sum = 0.0;
        for (uint g = 0; g < gl_NumSubgroups; ++g) up_sum += partials[g * kSums + ROWS * NCOLS + s];
        v = silu(v) * (up_sum * scale);
#endif
        const uint o = c * p.y_stride + p.row0 + row;
        y[o] = ACCUMULATE != 0u ? y[o] + v : v;
    }
}
