#version 450
#extension GL_GOOGLE_include_directive : require
// Buffer copy; also the bandwidth probe (`vkinfer probe`).
// Variants: ELEM = float | vec4.
#include "common/common.glsl"

layout(std430, binding = 0) readonly buffer Src { ELEM src[]; };
layout(std430, binding = 1) writeonly buffer Dst { ELEM dst[]; };
layout(push_constant) uniform Push { CopyParams p; };

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) dst[i] = src[i];
}
