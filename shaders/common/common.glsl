// Shared by every kernel: extensions, the local-size specialization constant, the
// grid-stride loop bounds and GGML's rounding.
#ifndef VKI_COMMON_GLSL
#define VKI_COMMON_GLSL

#include "common/params.h"

// Specialization constant 0 is the workgroup's x size in every kernel.
layout(local_size_x_id = 0) in;

// Invocations in the whole dispatch along x: the stride of a grid-stride loop, so
// that a dispatch capped at maxComputeWorkGroupCount still covers every element.
uint gridStride() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

// Rounds half away from zero, as C's roundf (GLSL's round() leaves halves to the
// implementation); quantizers use it to match GGML's codes.
int roundHalfAway(float v) {
    const float a = abs(v);
    const float t = trunc(a);
    const float r = a - t >= 0.5 ? t + 1.0 : t;  // a - t is exact
    return v < 0.0 ? -int(r) : int(r);
}

#endif
