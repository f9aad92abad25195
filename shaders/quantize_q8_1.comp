#version 450
#extension GL_GOOGLE_include_directive : require
// Activation quantization for the integer dot-product matmul (ops::recordQuantizeQ8_1):
// x, n columns of k floats (column c at float c * x_stride), becomes per 32-element
// block b of column c
//     d = amax * fl(1/127),  id = recipQ8_1(d),  q[e] = round(x[e] * id),  s = d * sum(q)
// (round: half away from zero, as C's roundf; recipQ8_1 below). The buffer `q` holds
//     words [0, n * kb * 8):            codes, block (c, b) at word 8 * (c * kb + b),
//                                       element e in byte e % 4 of word e / 4
//     words n * kb * 8 + 2 * (c * kb + b), + 1:  d and s as float bits
// with kb = k / 32. Every operation is a correctly rounded add, subtract or multiply
// (no division, whose precision Vulkan leaves loose), so the result is bit-exact with
// graph::ref::quantizeQ8_1 on every device, for inputs without subnormals.
// Eight adjacent invocations share a block, one packed word each; block max and sum
// go through shared memory.
#extension GL_EXT_control_flow_attributes : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 256;  // a multiple of 8

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { uint q[]; };
layout(push_constant) uniform Push { QuantizeQ8_1Params p; };

shared float block_max[kWorkgroupSize];
shared int block_sum[kWorkgroupSize];

// 1 / a for a normal, positive a: a bit-pattern first guess refined by four Newton
// steps y <- y * (2 - a * y), the same operations as the host reference.
float recipQ8_1(float a) {
    precise float y = uintBitsToFloat(0x7EF311C3u - floatBitsToUint(a));
    [[unroll]] for (uint i = 0; i < 4u; ++i) {
        precise float t = a * y;
        precise float u = 2.0 - t;
        y = y * u;
    }
    return y;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint kb = p.k / 32u;
    const uint words = p.n * kb * 8u;
    // Grid-stride over packed words, the bound uniform per workgroup (barriers inside).
    for (uint base = gl_WorkGroupID.x * kWorkgroupSize; base < words; base += gridStride()) {
        const uint idx = base + tid;
        const bool in_range = idx < words;
        const uint block = idx / 8u;  // c * kb + b
        const uint c = block / kb;
        const uint o = c * p.x_stride + (block % kb) * 32u + (idx % 8u) * 4u;
        vec4 v = vec4(0.0);
        if (in_range) v = vec4(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
        const vec4 av = abs(v);
        block_max[tid] = max(max(av.x, av.y), max(av.z, av.w));
        barrier();
        const uint first = tid & ~7u;
        float amax = block_max[first];
        [[unroll]] for (uint i = 1; i < 8u; ++i) amax = max(amax, block_max[first + i]);
        precise float d = amax * uintBitsToFloat(0x3C010204u);  // fl(1/127)
        // Subnormal scales (possibly flushed by the device) give an all-zero block.
        if (d < 1.17549435e-38) d = 0.0;
        const float id = d != 0.0 ? recipQ8_1(d) : 0.0;
        precise vec4 scaled = v * id;
        const ivec4 codes = ivec4(roundHalfAway(scaled.x), roundHalfAway(scaled.y), roundHalfAway(scaled.z),
                                  roundHalfAway(scaled.w));
        block_sum[tid] = codes.x + codes.y + codes.z + codes.w;
        barrier();
        if (in_range) {
            q[idx] = (uint(codes.x) & 0xFFu) | (uint(codes.y) & 0xFFu) << 8 | (uint(codes.z) & 0xFFu) << 16 |
                     uint(codes.w) << 24;
            if ((tid & 7u) == 0u) {
                int sum = 0;
                [[unroll]] for (uint i = 0; i < 8u; ++i) sum += block_sum[first + i];
                precise float s = d * float(sum);
                q[words + 2u * block] = floatBitsToUint(d);
                q[words + 2u * block + 1u] = floatBitsToUint(s);
            }
        }
        barrier();  // the next round overwrites block_max and block_sum
    }
}
