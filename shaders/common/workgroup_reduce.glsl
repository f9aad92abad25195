// Workgroup-wide reductions built on subgroup operations: each subgroup reduces,
// one slot per subgroup in shared memory, then every invocation combines the slots.
// Include after declaring kWorkgroupSize; needs GL_KHR_shader_subgroup_arithmetic.
#ifndef VKI_WORKGROUP_REDUCE_GLSL
#define VKI_WORKGROUP_REDUCE_GLSL

shared float vki_reduce_slots[kWorkgroupSize];

float workgroupSum(float v) {
    v = subgroupAdd(v);
    barrier();
    if (subgroupElect()) vki_reduce_slots[gl_SubgroupID] = v;
    barrier();
    float total = 0.0;
    for (uint s = 0; s < gl_NumSubgroups; ++s) total += vki_reduce_slots[s];
    return total;
}

float workgroupMax(float v) {
    v = subgroupMax(v);
    barrier();
    if (subgroupElect()) vki_reduce_slots[gl_SubgroupID] = v;
    barrier();
    float m = vki_reduce_slots[0];
    for (uint s = 1; s < gl_NumSubgroups; ++s) m = max(m, vki_reduce_slots[s]);
    return m;
}

#endif
