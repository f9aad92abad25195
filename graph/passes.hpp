// Graph passes: fusion (what the Vulkan kernels execute) and the liveness-based
// activation memory plan.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/ir.hpp"

namespace vki::graph {

// Rewrites the plain graph into fused ops, each saving dispatches or memory traffic:
//   - a bias add folds into the matmul that produces its input;
//   - Q, K and V matmuls over one input stack into one matmul per weight dtype;
//   - RoPE of Q and K and the KV store become one op (rope_kv);
//   - RMSNorm folds into the matmuls that consume it (the kernel normalizes its input);
//   - gate and up matmuls with the SwiGLU become one matmul with a SwiGLU epilogue;
//   - a residual add folds into the matmul producing its addend (accumulate in place).
// The result computes the same function; the reference executor runs both forms.
void fuse(Graph& graph);

// Offsets of every value in one activation buffer for steps of n tokens: values
// whose lifetimes (first write .. last read) overlap never share bytes.
struct MemoryPlan {
    static constexpr uint64_t kUnused = UINT64_MAX;
    std::vector<uint64_t> offsets;  // per value; kUnused for values no op touches
    uint64_t bytes = 0;             // the buffer's size
    uint64_t unshared_bytes = 0;    // what a buffer per value would take
};
MemoryPlan planMemory(const Graph& graph, uint32_t n_tokens, uint64_t alignment);

}  // namespace vki::graph
