// Push-constant blocks, one struct per kernel family. This file compiles as GLSL
// and as C++: the host fills exactly the struct the shader reads. Only 32-bit
// scalars, so std430 and C++ layouts agree; the host checks each struct's size
// against the size reflected from the SPIR-V.
#ifndef VKI_SHADER_PARAMS_H
#define VKI_SHADER_PARAMS_H

#ifdef __cplusplus
#include <cstdint>
namespace vki::shader {
using uint = uint32_t;
#endif

// copy.comp: dst[i] = src[i] for i < n (n in elements of the variant's type).
struct CopyParams {
    uint n;
};

// binary.comp: dst[i] = a[i] OP b[i % n_b] for i < n; n_b divides nothing in
// particular (a row of bias broadcast over rows is n_b = row length).
struct BinaryParams {
    uint n;
    uint n_b;
};

// reduce.comp: dst[workgroup] = OP over the workgroup's grid-stride share of src[0..n).
struct ReduceParams {
    uint n;
};

// peak.comp: `iterations` rounds of independent FMA chains per invocation.
struct PeakParams {
    uint iterations;
    float seed;
};

#ifdef __cplusplus
}  // namespace vki::shader
#endif

#endif
