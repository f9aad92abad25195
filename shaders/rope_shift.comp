#version 450
#extension GL_GOOGLE_include_directive : require
// Moves cached K to other positions (RopeShiftParams): the K of every token of the
// listed pages, stored rotated for its position t, is rotated by delta more, as if
// computed at t + delta (a context shift moves a sequence's later pages down by the
// positions it drops; RoPE composes, so nothing is recomputed). V is unchanged.
// Invocation i: one pair of one kv head of one token of one listed page.
#extension GL_EXT_shader_16bit_storage : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;

layout(std430, binding = 0) readonly buffer Freq { float inv_freq[]; };
layout(std430, binding = 1) readonly buffer Pages { uint pages[]; };
layout(std430, binding = 2) buffer Cache { float16_t cache[]; };
layout(push_constant) uniform Push { RopeShiftParams p; };

void main() {
    const uint half_dim = p.head_dim / 2;
    const uint per_page = p.kv_heads * p.page_tokens * half_dim;
    for (uint i = gl_GlobalInvocationID.x; i < p.n_pages * per_page; i += gridStride()) {
        const uint pair = i % half_dim, row = i / half_dim;  // row: (listed page, kv head, token)
        const uint page = pages[row / (p.kv_heads * p.page_tokens)];
        const uint base = (page * 2 * p.kv_heads * p.page_tokens + row % (p.kv_heads * p.page_tokens)) * p.head_dim;
        const uint i0 = base + (p.neox != 0 ? pair : 2 * pair);
        const uint i1 = base + (p.neox != 0 ? pair + half_dim : 2 * pair + 1);
        const float theta = float(p.delta) * inv_freq[pair];
        const float cs = cos(theta), sn = sin(theta);
        const float x0 = float(cache[i0]), x1 = float(cache[i1]);
        cache[i0] = float16_t(x0 * cs - x1 * sn);
        cache[i1] = float16_t(x0 * sn + x1 * cs);
    }
}
