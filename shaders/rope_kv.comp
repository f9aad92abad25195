#version 450
#extension GL_GOOGLE_include_directive : require
// RoPE of Q and K and the KV-cache store in one pass (RopeKvParams). Workgroup
// (head, token c) takes one head of the token, kWorkgroupSize pairs at a time: a q
// head's pairs are rotated into out; a kv head's rotated K row and its V row go to the
// cache, as f16 (KV_F16) or (KV_Q8_0) through shared memory into q8_0 blocks as GGML
// quantizes them: d = amax / 127, codes x * (1 / d) rounded half away from zero, all 0
// where d = 0.
#ifdef KV_F16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 1) const uint kHeadDim = 128;
const uint kHalf = kHeadDim / 2;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) writeonly buffer Out { float out_q[]; };
layout(std430, binding = 4) readonly buffer Freq { float inv_freq[]; };
layout(std430, binding = 5) readonly buffer Pos { uint positions[]; };
layout(std430, binding = 6) readonly buffer Slot { uint slots[]; };
layout(std430, binding = 7) readonly buffer Table { uint page_table[]; };
#ifdef KV_F16
layout(std430, binding = 8) writeonly buffer Cache { float16_t cache[]; };
#else
layout(std430, binding = 8) writeonly buffer Cache { uint cache[]; };
const uint kBlocks = kHeadDim / 32;
shared float row_s[2 * kHeadDim];  // the rotated K row, then the V row
shared float d_s[2 * kBlocks];     // their blocks' scales
#endif
layout(push_constant) uniform Push { RopeKvParams p; };

#include "common/kv_cache.glsl"

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint head = gl_WorkGroupID.x, c = gl_WorkGroupID.y;
    const uint pos = positions[c];
    const bool is_q = head < p.q_heads;  // uniform over the workgroup
    const uint kvh = head - p.q_heads;
    const uint src = is_q ? c * p.q_stride + p.q_offset + head * kHeadDim : c * p.k_stride + p.k_offset + kvh * kHeadDim;
    const uint vsrc = c * p.v_stride + p.v_offset + kvh * kHeadDim;
    const uint page = page_table[slots[c] * p.max_pages + (pos / p.page_tokens) % p.max_pages];
    const uint rows = p.kv_heads * p.page_tokens, row = kvh * p.page_tokens + pos % p.page_tokens;
    for (uint pair = tid; pair < kHalf; pair += kWorkgroupSize) {
        const uint i0 = p.neox != 0 ? pair : 2 * pair;
        const uint i1 = p.neox != 0 ? pair + kHalf : 2 * pair + 1;
        const float theta = float(pos) * inv_freq[pair];
        const float cs = cos(theta) * p.mscale, sn = sin(theta) * p.mscale;
        if (is_q) {
            const float x0 = q[src + i0], x1 = q[src + i1];
            const uint dst = c * p.out_stride + head * kHeadDim;
            out_q[dst + i0] = x0 * cs - x1 * sn;
            out_q[dst + i1] = x0 * sn + x1 * cs;
            continue;
        }
        const float x0 = k[src + i0], x1 = k[src + i1];
#ifdef KV_F16
        const uint k_base = 2 * kvKeyWord(page, row, rows, kHeadDim);
        const uint v_base = k_base + 2 * kvValueWords(rows, kHeadDim);
        cache[k_base + i0] = float16_t(x0 * cs - x1 * sn);
        cache[k_base + i1] = float16_t(x0 * sn + x1 * cs);
        cache[v_base + i0] = float16_t(v[vsrc + i0]);
        cache[v_base + i1] = float16_t(v[vsrc + i1]);
#else
        row_s[i0] = x0 * cs - x1 * sn;
        row_s[i1] = x0 * sn + x1 * cs;
        row_s[kHeadDim + i0] = v[vsrc + i0];
        row_s[kHeadDim + i1] = v[vsrc + i1];
#endif
    }
#ifdef KV_Q8_0
    if (is_q) return;
    barrier();
    for (uint b = tid; b < 2 * kBlocks; b += kWorkgroupSize) {
        float amax = 0.0;
        for (uint e = 0; e < 32; ++e) amax = max(amax, abs(row_s[32 * b + e]));
        d_s[b] = amax / 127.0;
    }
    barrier();
    const uint k_base = kvKeyWord(page, row, rows, kHeadDim);
    // Words 0 .. kHeadDim / 4 - 1 are K's, the rest V's.
    for (uint w = tid; w < kHeadDim / 2; w += kWorkgroupSize) {
        const float d = d_s[w / 8];
        const float id = d != 0.0 ? 1.0 / d : 0.0;
        uint word = 0;
        for (uint e = 0; e < 4; ++e) word |= (uint(roundHalfAway(row_s[4 * w + e] * id)) & 0xFFu) << (8 * e);
        const uint quarter = kHeadDim / 4;
        cache[w < quarter ? k_base + w : k_base + kvValueWords(rows, kHeadDim) + w - quarter] = word;
    }
    const uint scales = kvScaleWord(page, row, rows, kHeadDim);
    for (uint b = tid; b < kBlocks; b += kWorkgroupSize) cache[scales + b] = packHalf2x16(vec2(d_s[b], d_s[kBlocks + b]));
#endif
}
