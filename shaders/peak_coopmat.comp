#version 450
#extension GL_GOOGLE_include_directive : require
// Cooperative-matrix throughput probe (fp16 x fp16 + fp32, the prompt matmul's form):
// four independent multiply-add chains per subgroup, so the matrix units, not
// latency, set the pace. Each iteration is 4 x 2 * CM_M * CM_N * CM_K flops per
// subgroup; workgroups are one subgroup, each storing 4 blocks.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#include "common/common.glsl"

layout(constant_id = 1) const uint CM_M = 16;
layout(constant_id = 2) const uint CM_N = 16;
layout(constant_id = 3) const uint CM_K = 16;

layout(std430, binding = 0) writeonly buffer Out { float result[]; };
layout(push_constant) uniform Push { PeakParams p; };

void main() {
    // Small values keep the sums finite (the probe's seed is 0.25: 16 * 0.0625^2 per
    // step). Each chain is stored on its own: spirv-opt 2023.1 crashes on a sum of
    // cooperative matrices.
    fcoopmatNV<16, gl_ScopeSubgroup, CM_M, CM_K> a =
        fcoopmatNV<16, gl_ScopeSubgroup, CM_M, CM_K>(float16_t(p.seed * 0.25));
    fcoopmatNV<16, gl_ScopeSubgroup, CM_K, CM_N> b =
        fcoopmatNV<16, gl_ScopeSubgroup, CM_K, CM_N>(float16_t(p.seed * 0.25));
    fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N> c0 = fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N>(0.0);
    fcoopmatNV<32, gl_ScopeSubgroup, CM_M, CM_N> c1 = c0, c2 = c0, c3 = c0;
    for (uint i = 0; i < p.iterations; ++i) {
        c0 = coopMatMulAddNV(a, b, c0);
        c1 = coopMatMulAddNV(a, b, c1);
        c2 = coopMatMulAddNV(a, b, c2);
        c3 = coopMatMulAddNV(a, b, c3);
    }
    coopMatStoreNV(c0, result, gl_WorkGroupID.x * 4 * CM_M * CM_N, CM_N, false);
    coopMatStoreNV(c1, result, (gl_WorkGroupID.x * 4 + 1) * CM_M * CM_N, CM_N, false);
    coopMatStoreNV(c2, result, (gl_WorkGroupID.x * 4 + 2) * CM_M * CM_N, CM_N, false);
    coopMatStoreNV(c3, result, (gl_WorkGroupID.x * 4 + 3) * CM_M * CM_N, CM_N, false);
}
