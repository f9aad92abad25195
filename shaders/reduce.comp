#version 450
#extension GL_GOOGLE_include_directive : require
// Reduction with subgroup operations: each workgroup reduces its grid-stride share
// of src into dst[workgroup]. Two dispatches (src -> partials -> one value) reduce
// any length. Variants: OP_SUM | OP_MAX.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 256;

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) writeonly buffer Dst { float dst[]; };
layout(push_constant) uniform Push { ReduceParams p; };

// One slot per subgroup; sized for the smallest possible subgroup (1 invocation).
shared float partial[kWorkgroupSize];

#if defined(OP_SUM)
float identity() { return 0.0; }
float combine(float x, float y) { return x + y; }
float subgroupCombine(float x) { return subgroupAdd(x); }
#elif defined(OP_MAX)
float identity() { return uintBitsToFloat(0xff800000u); }  // -inf
float combine(float x, float y) { return max(x, y); }
float subgroupCombine(float x) { return subgroupMax(x); }
#else
#error "define OP_SUM or OP_MAX"
#endif

void main() {
    float acc = identity();
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) acc = combine(acc, src[i]);
    acc = subgroupCombine(acc);
    if (subgroupElect()) partial[gl_SubgroupID] = acc;
    barrier();
    if (gl_SubgroupID == 0) {
        acc = identity();
        for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += gl_SubgroupSize) acc = combine(acc, partial[s]);
        acc = subgroupCombine(acc);
        if (subgroupElect()) dst[gl_WorkGroupID.x] = acc;
    }
}
