#version 450
#extension GL_GOOGLE_include_directive : require
// Decode attention, split over the KV length (AttentionParams): workgroup
// (split, head, token) scores its chunk of at most kChunk cached keys, and writes
// the chunk's max score, sum of exponentials and unnormalized output to the
// partials; attention_reduce.comp combines the chunks. Chunks count from the token's
// first visible key (its window's start); those past its position write an empty
// partial.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 1) const uint kChunk = 128;
layout(constant_id = 2) const uint kHeadDim = 128;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Pos { uint positions[]; };
layout(std430, binding = 2) readonly buffer Slot { uint slots[]; };
layout(std430, binding = 3) readonly buffer Table { uint page_table[]; };
layout(std430, binding = 4) readonly buffer Cache { uint cache[]; };  // f16 pairs
layout(std430, binding = 5) writeonly buffer Partials { float partials[]; };
layout(push_constant) uniform Push { AttentionParams p; };

#include "common/workgroup_reduce.glsl"

shared float q_s[kHeadDim];
shared float p_s[kChunk];
shared uint v_row[kChunk];  // first f16 pair of each key's V row: one page-table walk per key

// Index (in f16 pairs) of the first pair of token t's K (which = 0) or V (1) row.
uint rowPair(uint slot, uint t, uint kvh, uint which) {
    const uint page = page_table[slot * p.max_pages + (t / p.page_tokens) % p.max_pages];
    const uint base = ((page * 2 + which) * p.kv_heads + kvh) * p.page_tokens * kHeadDim;
    return (base + (t % p.page_tokens) * kHeadDim) / 2;
}

void main() {
    const uint split = gl_WorkGroupID.x, h = gl_WorkGroupID.y, c = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint len = positions[c] + 1, slot = slots[c];
    const uint kvh = h / (p.q_heads / p.kv_heads);
    const uint dst = ((c * p.q_heads + h) * p.splits + split) * (kHeadDim + 2);
    const uint lo = p.window != 0 && len > p.window ? len - p.window : 0;
    const uint t0 = lo + split * kChunk;
    if (t0 >= len) {
        for (uint d = tid; d < kHeadDim; d += kWorkgroupSize) partials[dst + 2 + d] = 0.0;
        if (tid == 0) {
            partials[dst] = uintBitsToFloat(0xff800000u);  // -inf
            partials[dst + 1] = 0.0;
        }
        return;
    }
    const uint t1 = min(t0 + kChunk, len);
    for (uint d = tid; d < kHeadDim; d += kWorkgroupSize) q_s[d] = q[c * p.q_stride + h * kHeadDim + d] * p.scale;
    barrier();

    float m = uintBitsToFloat(0xff800000u);
    for (uint t = t0 + tid; t < t1; t += kWorkgroupSize) {
        const uint kp = rowPair(slot, t, kvh, 0);
        v_row[t - t0] = rowPair(slot, t, kvh, 1);
        float s = 0.0;
        for (uint d2 = 0; d2 < kHeadDim / 2; ++d2) {
            const vec2 kv = unpackHalf2x16(cache[kp + d2]);
            s += q_s[2 * d2] * kv.x + q_s[2 * d2 + 1] * kv.y;
        }
        p_s[t - t0] = s;
        m = max(m, s);
    }
    m = workgroupMax(m);
    float l = 0.0;
    for (uint t = t0 + tid; t < t1; t += kWorkgroupSize) {
        const float e = exp(p_s[t - t0] - m);
        p_s[t - t0] = e;
        l += e;
    }
    l = workgroupSum(l);  // its barriers also publish p_s and v_row

    for (uint d2 = tid; d2 < kHeadDim / 2; d2 += kWorkgroupSize) {
        vec2 acc = vec2(0.0);
        for (uint t = t0; t < t1; ++t) acc += p_s[t - t0] * unpackHalf2x16(cache[v_row[t - t0] + d2]);
        partials[dst + 2 + 2 * d2] = acc.x;
        partials[dst + 3 + 2 * d2] = acc.y;
    }
    if (tid == 0) {
        partials[dst] = m;
        partials[dst + 1] = l;
    }
}
