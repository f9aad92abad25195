#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise binary op with b broadcast by repetition: dst[i] = a[i] OP b[i % n_b].
// Variants: OP_ADD | OP_MUL.
#include "common/common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Dst { float dst[]; };
layout(push_constant) uniform Push { BinaryParams p; };

float op(float x, float y) {
#if defined(OP_ADD)
    return x + y;
#elif defined(OP_MUL)
    return x * y;
#else
#error "define OP_ADD or OP_MUL"
#endif
}

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) dst[i] = op(a[i], b[i % p.n_b]);
}
