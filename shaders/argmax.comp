#version 450
#extension GL_GOOGLE_include_directive : require
// Greedy sampling on the device (ArgMaxParams): workgroup c finds the largest logit
// of row c and writes its index, so only ids travel back to the host.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 256;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) writeonly buffer Ids { uint ids[]; };
layout(push_constant) uniform Push { ArgMaxParams p; };

shared float best_v[kWorkgroupSize];
shared uint best_i[kWorkgroupSize];

void main() {
    const uint c = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    float v = uintBitsToFloat(0xff800000u);
    uint index = 0xffffffffu;
    for (uint i = tid; i < p.width; i += kWorkgroupSize) {
        const float x = logits[c * p.stride + i];
        if (x > v) {  // strictly greater: each invocation keeps its first maximum
            v = x;
            index = i;
        }
    }
    // The max, then the smallest index holding it.
    const float sm = subgroupMax(v);
    const uint si = subgroupMin(v == sm ? index : 0xffffffffu);
    if (subgroupElect()) {
        best_v[gl_SubgroupID] = sm;
        best_i[gl_SubgroupID] = si;
    }
    barrier();
    if (tid == 0) {
        float bv = best_v[0];
        uint bi = best_i[0];
        for (uint s = 1; s < gl_NumSubgroups; ++s) {
            if (best_v[s] > bv || (best_v[s] == bv && best_i[s] < bi)) {
                bv = best_v[s];
                bi = best_i[s];
            }
        }
        ids[c] = bi == 0xffffffffu ? 0u : bi;
    }
}
