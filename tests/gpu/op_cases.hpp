// The op case table: element counts every streaming kernel is run at, shared by
// the op tests and the kernel benchmarks. Sizes straddle workgroup multiples
// (256), subgroup multiples (8..64) and the grid-stride cap (65535 workgroups).
#pragma once

#include <cstddef>

namespace vki::test {

inline constexpr size_t kStreamingSizes[] = {1, 7, 255, 256, 257, 1000, 4099, 65537, 1000003};
// Beyond 65535 x 256 invocations: the grid-stride loop must wrap.
inline constexpr size_t kGridStrideSize = 65535ul * 256 + 1001;

}  // namespace vki::test
