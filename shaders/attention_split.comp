#version 450
#extension GL_GOOGLE_include_directive : require
// Decode attention, split over the KV length (AttentionParams): workgroup
// (split, head, token) scores its chunk of at most kChunk cached keys, and writes
// the chunk's max score, sum of exponentials and unnormalized output to the
// partials; attention_reduce.comp combines the chunks. Chunks count from the token's
// first visible key (its window's start); those past its position write an empty
// partial. The cache holds f16 or q8_0 rows (common/kv_cache.glsl): a q8_0 block's
// dot with q is scaled once, and each value word by its block's scale.
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
layout(std430, binding = 4) readonly buffer Cache { uint cache[]; };
layout(std430, binding = 5) writeonly buffer Partials { float partials[]; };
layout(push_constant) uniform Push { AttentionParams p; };

#include "common/kv_cache.glsl"
#include "common/workgroup_reduce.glsl"

const uint kWords = kHeadDim / kKvUnit;  // cache words of a row

shared float q_s[kHeadDim];
shared float p_s[kChunk];
shared uint v_row[kChunk];  // first word of each key's V row: one page-table walk per key
#ifdef KV_Q8_0
shared uint scale_row[kChunk];  // first scale word of each key
#endif

// (d_k, d_v) of block b of the row whose scales start at word `scales`
// (kvScaleWord); f16 rows are unscaled.
vec2 rowScales(uint scales, uint b) {
#ifdef KV_Q8_0
    return unpackHalf2x16(cache[scales + b]);
#else
    return vec2(1.0);
#endif
}

void main() {
    const uint split = gl_WorkGroupID.x, h = gl_WorkGroupID.y, c = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint len = positions[c] + 1, slot = slots[c];
    const uint kvh = h / (p.q_heads / p.kv_heads);
    const uint rows = p.kv_heads * p.page_tokens;
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
        const uint page = page_table[slot * p.max_pages + (t / p.page_tokens) % p.max_pages];
        const uint row = kvh * p.page_tokens + t % p.page_tokens;
        const uint kw = kvKeyWord(page, row, rows, kHeadDim);
        v_row[t - t0] = kw + kvValueWords(rows, kHeadDim);
#ifdef KV_Q8_0
        const uint scales = kvScaleWord(page, row, rows, kHeadDim);
        scale_row[t - t0] = scales;
#else
        const uint scales = 0;  // f16 rows are unscaled
#endif
        float s = 0.0;
        for (uint b = 0; b < kWords / kKvBlockWords; ++b) {
            float sb = 0.0;
            for (uint j = 0; j < kKvBlockWords; ++j) {
                const uint w = b * kKvBlockWords + j;
                const KvVec kk = kvUnpack(cache[kw + w]);
                for (uint e = 0; e < kKvUnit; ++e) sb += q_s[kKvUnit * w + e] * kk[e];
            }
            s += rowScales(scales, b).x * sb;
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
    l = workgroupSum(l);  // its barriers also publish p_s, v_row and scale_row

    for (uint w = tid; w < kWords; w += kWorkgroupSize) {
        KvVec acc = KvVec(0.0);
        for (uint t = t0; t < t1; ++t) {
#ifdef KV_Q8_0
            const float e = p_s[t - t0] * rowScales(scale_row[t - t0], w / kKvBlockWords).y;
#else
            const float e = p_s[t - t0];
#endif
            acc += e * kvUnpack(cache[v_row[t - t0] + w]);
        }
        for (uint e = 0; e < kKvUnit; ++e) partials[dst + 2 + kKvUnit * w + e] = acc[e];
    }
    if (tid == 0) {
        partials[dst] = m;
        partials[dst + 1] = l;
    }
}
