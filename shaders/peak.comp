#version 450
#extension GL_GOOGLE_include_directive : require
// Arithmetic throughput probe: eight independent FMA chains of 4-wide vectors per
// invocation, so the ALUs, not latency, set the pace. Each iteration is
// 8 chains x 4 lanes x 2 flops = 64 flops per invocation.
// Variants: TYPE_F32 | TYPE_F16.
#if defined(TYPE_F16)
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define VEC f16vec4
#define SCALAR float16_t
#elif defined(TYPE_F32)
#define VEC vec4
#define SCALAR float
#else
#error "define TYPE_F32 or TYPE_F16"
#endif

#include "common/common.glsl"

layout(std430, binding = 0) writeonly buffer Out { float result[]; };
layout(push_constant) uniform Push { PeakParams p; };

void main() {
    // Values stay near 1: x -> x * m + c with m < 1 converges to c / (1 - m).
    const VEC m = VEC(SCALAR(0.5));
    const VEC c = VEC(SCALAR(0.5));
    VEC x0 = VEC(SCALAR(p.seed + float(gl_LocalInvocationID.x & 7u) * 0.125));
    VEC x1 = x0 + VEC(SCALAR(0.01)), x2 = x0 + VEC(SCALAR(0.02)), x3 = x0 + VEC(SCALAR(0.03));
    VEC x4 = x0 + VEC(SCALAR(0.04)), x5 = x0 + VEC(SCALAR(0.05)), x6 = x0 + VEC(SCALAR(0.06));
    VEC x7 = x0 + VEC(SCALAR(0.07));
    for (uint i = 0; i < p.iterations; ++i) {
        x0 = fma(x0, m, c); x1 = fma(x1, m, c); x2 = fma(x2, m, c); x3 = fma(x3, m, c);
        x4 = fma(x4, m, c); x5 = fma(x5, m, c); x6 = fma(x6, m, c); x7 = fma(x7, m, c);
    }
    VEC sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
    result[gl_GlobalInvocationID.x] = float(sum.x + sum.y + sum.z + sum.w);
}
