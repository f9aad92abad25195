// Shared by every kernel: extensions, the local-size specialization constant and
// the grid-stride loop bounds.
#ifndef VKI_COMMON_GLSL
#define VKI_COMMON_GLSL

#include "common/params.h"

// Specialization constant 0 is the workgroup's x size in every kernel.
layout(local_size_x_id = 0) in;

// Invocations in the whole dispatch along x: the stride of a grid-stride loop, so
// that a dispatch capped at maxComputeWorkGroupCount still covers every element.
uint gridStride() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }

#endif
