#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup with dequantization (ops::EmbedArgs): y[c][0..k) = row ids[c] of
// a table slab, for the columns whose id falls in the slab. One invocation per
// 32-element chunk of an output row, grid-stride.
// Variants: one WTYPE_* (common/dequant.glsl).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "common/common.glsl"
#include "common/dequant.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;

layout(std430, binding = 0) readonly buffer Table { DQ_WORD table[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { EmbedParams p; };

uint dqLoad(uint src, uint index) { return uint(table[index]); }

void main() {
    const uint chunks = (p.k + DQ_CHUNK - 1u) / DQ_CHUNK;
    for (uint item = gl_GlobalInvocationID.x; item < p.n * chunks; item += gridStride()) {
        const uint c = item / chunks;
        const uint ch = item - c * chunks;
        const uint row = ids[c] - p.row0;  // wraps past p.rows for ids below the slab
        if (row >= p.rows) continue;
        const uint row_base = row * p.row_words;
        const uint dst = c * p.y_stride + ch * DQ_CHUNK;
        if ((ch + 1u) * DQ_CHUNK <= p.k) {
            const DqChunk chunk = dqChunk(0u, row_base, ch);
            [[unroll]] for (uint j = 0; j < DQ_CHUNK / 4; ++j) {
                const vec4 v = dqValues4(0u, chunk, j);
                y[dst + 4u * j] = v.x;
                y[dst + 4u * j + 1u] = v.y;
                y[dst + 4u * j + 2u] = v.z;
                y[dst + 4u * j + 3u] = v.w;
            }
        }
#if defined(DQ_FLOAT_TYPE)
        else {
            for (uint i = ch * DQ_CHUNK; i < p.k; ++i) y[c * p.y_stride + i] = dqElement(0u, row_base, i);
        }
#endif
    }
}
