#version 450
#extension GL_GOOGLE_include_directive : require
// Moves cached K to other positions (RopeShiftParams): the K of every token of the
// listed pages, stored rotated for its position t, is rotated by delta more, as if
// computed at t + delta (a context shift moves a sequence's later pages down by the
// positions it drops; RoPE composes, so nothing is recomputed). V is unchanged.
// Workgroup (row, listed page) takes one K row (kv head, token) of the page: f16
// (KV_F16) pair by pair in place; q8_0 (KV_Q8_0) dequantized into shared memory,
// rotated and quantized again as rope_kv.comp quantizes (the row's V scales kept).
#ifdef KV_F16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 1) const uint kHeadDim = 128;
const uint kHalf = kHeadDim / 2;

layout(std430, binding = 0) readonly buffer Freq { float inv_freq[]; };
layout(std430, binding = 1) readonly buffer Pages { uint pages[]; };
#ifdef KV_F16
layout(std430, binding = 2) buffer Cache { float16_t cache[]; };
#else
layout(std430, binding = 2) buffer Cache { uint cache[]; };
const uint kBlocks = kHeadDim / 32;
shared float row_s[kHeadDim];
shared float d_s[kBlocks];
#endif
layout(push_constant) uniform Push { RopeShiftParams p; };

#include "common/kv_cache.glsl"

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint row = gl_WorkGroupID.x, page = pages[gl_WorkGroupID.y];
    const uint rows = p.kv_heads * p.page_tokens;
#ifdef KV_Q8_0
    const uint k_base = kvKeyWord(page, row, rows, kHeadDim);
    const uint scales = kvScaleWord(page, row, rows, kHeadDim);
    for (uint w = tid; w < kHeadDim / 4; w += kWorkgroupSize) {
        const vec4 x = kvUnpack(cache[k_base + w]) * unpackHalf2x16(cache[scales + w / 8]).x;
        for (uint e = 0; e < 4; ++e) row_s[4 * w + e] = x[e];
    }
    barrier();
#else
    const uint k_base = 2 * kvKeyWord(page, row, rows, kHeadDim);  // in halves
#endif
    for (uint pair = tid; pair < kHalf; pair += kWorkgroupSize) {
        const uint i0 = p.neox != 0 ? pair : 2 * pair;
        const uint i1 = p.neox != 0 ? pair + kHalf : 2 * pair + 1;
        const float theta = float(p.delta) * inv_freq[pair];
        const float cs = cos(theta), sn = sin(theta);
#ifdef KV_F16
        const float x0 = float(cache[k_base + i0]), x1 = float(cache[k_base + i1]);
        cache[k_base + i0] = float16_t(x0 * cs - x1 * sn);
        cache[k_base + i1] = float16_t(x0 * sn + x1 * cs);
#else
        const float x0 = row_s[i0], x1 = row_s[i1];
        row_s[i0] = x0 * cs - x1 * sn;
        row_s[i1] = x0 * sn + x1 * cs;
#endif
    }
#ifdef KV_Q8_0
    barrier();
    for (uint b = tid; b < kBlocks; b += kWorkgroupSize) {
        float amax = 0.0;
        for (uint e = 0; e < 32; ++e) amax = max(amax, abs(row_s[32 * b + e]));
        d_s[b] = amax / 127.0;
    }
    barrier();
    for (uint w = tid; w < kHeadDim / 4; w += kWorkgroupSize) {
        const float d = d_s[w / 8];
        const float id = d != 0.0 ? 1.0 / d : 0.0;
        uint word = 0;
        for (uint e = 0; e < 4; ++e) word |= (uint(roundHalfAway(row_s[4 * w + e] * id)) & 0xFFu) << (8 * e);
        cache[k_base + w] = word;
    }
    for (uint b = tid; b < kBlocks; b += kWorkgroupSize)
        cache[scales + b] = packHalf2x16(vec2(d_s[b], unpackHalf2x16(cache[scales + b]).y));
#endif
}
