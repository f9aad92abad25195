#version 450
#extension GL_GOOGLE_include_directive : require
// RoPE of Q and K and the KV-cache store in one pass (RopeKvParams). Invocation i of
// token c (y) rotates one pair of one head: pairs of the q heads first, then of the
// kv heads, which also store the pair's K (rotated) and V values as f16.
#extension GL_EXT_shader_16bit_storage : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) writeonly buffer Out { float out_q[]; };
layout(std430, binding = 4) readonly buffer Freq { float inv_freq[]; };
layout(std430, binding = 5) readonly buffer Pos { uint positions[]; };
layout(std430, binding = 6) readonly buffer Slot { uint slots[]; };
layout(std430, binding = 7) readonly buffer Table { uint page_table[]; };
layout(std430, binding = 8) writeonly buffer Cache { float16_t cache[]; };
layout(push_constant) uniform Push { RopeKvParams p; };

void main() {
    const uint half_dim = p.head_dim / 2;
    const uint i = gl_GlobalInvocationID.x;
    const uint c = gl_WorkGroupID.y;
    if (i >= (p.q_heads + p.kv_heads) * half_dim) return;
    const uint head = i / half_dim, pair = i % half_dim;
    const uint i0 = p.neox != 0 ? pair : 2 * pair;
    const uint i1 = p.neox != 0 ? pair + half_dim : 2 * pair + 1;
    const uint pos = positions[c];
    const float theta = float(pos) * inv_freq[pair];
    const float cs = cos(theta) * p.mscale, sn = sin(theta) * p.mscale;
    if (head < p.q_heads) {
        const uint src = c * p.q_stride + p.q_offset + head * p.head_dim;
        const float x0 = q[src + i0], x1 = q[src + i1];
        const uint dst = c * p.out_stride + head * p.head_dim;
        out_q[dst + i0] = x0 * cs - x1 * sn;
        out_q[dst + i1] = x0 * sn + x1 * cs;
        return;
    }
    const uint kvh = head - p.q_heads;
    const uint src = c * p.k_stride + p.k_offset + kvh * p.head_dim;
    const float x0 = k[src + i0], x1 = k[src + i1];
    const uint page = page_table[slots[c] * p.max_pages + (pos / p.page_tokens) % p.max_pages];
    const uint row = (pos % p.page_tokens) * p.head_dim;
    const uint k_base = ((page * 2) * p.kv_heads + kvh) * p.page_tokens * p.head_dim + row;
    const uint v_base = ((page * 2 + 1) * p.kv_heads + kvh) * p.page_tokens * p.head_dim + row;
    cache[k_base + i0] = float16_t(x0 * cs - x1 * sn);
    cache[k_base + i1] = float16_t(x0 * sn + x1 * cs);
    const uint vsrc = c * p.v_stride + p.v_offset + kvh * p.head_dim;
    cache[v_base + i0] = float16_t(v[vsrc + i0]);
    cache[v_base + i1] = float16_t(v[vsrc + i1]);
}
