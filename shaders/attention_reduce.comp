#version 450
#extension GL_GOOGLE_include_directive : require
// Combines attention_split.comp's chunks (AttentionParams): workgroup (head, token)
// rescales each chunk's sum and output to the overall max and normalizes.
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 2) const uint kHeadDim = 128;

layout(std430, binding = 0) readonly buffer Partials { float partials[]; };
layout(std430, binding = 1) writeonly buffer Out { float out_v[]; };
layout(push_constant) uniform Push { AttentionParams p; };

void main() {
    const uint h = gl_WorkGroupID.x, c = gl_WorkGroupID.y;
    const uint base = (c * p.q_heads + h) * p.splits * (kHeadDim + 2);
    float m = uintBitsToFloat(0xff800000u);
    for (uint s = 0; s < p.splits; ++s) m = max(m, partials[base + s * (kHeadDim + 2)]);
    float l = 0.0;
    for (uint s = 0; s < p.splits; ++s) {
        const uint at = base + s * (kHeadDim + 2);
        if (partials[at + 1] > 0.0) l += partials[at + 1] * exp(partials[at] - m);
    }
    for (uint d = gl_LocalInvocationID.x; d < kHeadDim; d += kWorkgroupSize) {
        float o = 0.0;
        for (uint s = 0; s < p.splits; ++s) {
            const uint at = base + s * (kHeadDim + 2);
            if (partials[at + 1] > 0.0) o += partials[at + 2 + d] * exp(partials[at] - m);
        }
        out_v[c * p.out_stride + h * kHeadDim + d] = o / l;
    }
}
