#version 450
#extension GL_GOOGLE_include_directive : require
// RMSNorm on its own (RmsNormParams): workgroup c writes
// y[c] = x[c] * g / sqrt(mean(x[c]^2) + eps). Executors use it where folding the norm
// into a matvec would repeat the pass over x in every workgroup (CPU drivers).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { RmsNormParams p; };

#include "common/workgroup_reduce.glsl"

void main() {
    const uint c = gl_WorkGroupID.x;
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.k; i += kWorkgroupSize) {
        const float v = x[c * p.x_stride + i];
        s += v * v;
    }
    const float scale = 1.0 / sqrt(workgroupSum(s) / float(p.k) + p.eps);
    for (uint i = gl_LocalInvocationID.x; i < p.k; i += kWorkgroupSize) {
        y[c * p.y_stride + i] = x[c * p.x_stride + i] * scale * g[i];
    }
}
