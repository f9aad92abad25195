// The CPU reference executor: runs a graph (plain or fused) in fp32 on the CPU, with
// the KV cache rounded as the device stores it (fp16, or q8_0 blocks). The oracle the
// Vulkan path is compared with, token by token.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "graph/ir.hpp"
#include "model/gguf.hpp"
#include "quant/quant.hpp"

namespace vki::graph {

class ReferenceExecutor {
public:
    // One sequence of at most n_ctx positions. `file` must outlive the executor. K and
    // V rows are rounded to `kv_type` (kF16, or kQ8_0: quantized and dequantized with
    // quant::quantize, needing a head size that is a multiple of 32).
    ReferenceExecutor(const Graph& graph, const model::GgufFile& file, uint32_t n_ctx,
                      quant::DType kv_type = quant::DType::kF16);

    // Runs tokens at positions (each < n_ctx; a token attends to cache positions
    // 0..its own, written by earlier steps or earlier tokens of this one). Returns the
    // logits, n rows of n_vocab floats; the argmax of each row is in lastIds().
    std::vector<float> forward(std::span<const uint32_t> tokens, std::span<const uint32_t> positions);
    const std::vector<uint32_t>& lastIds() const { return ids_; }
    // Context shift in the cache, as Executor::shiftKv: positions [keep + drop, end)
    // move down by `drop`, their K rotated by -drop and rounded to the cache's type again.
    void shiftCache(uint32_t keep, uint32_t drop, uint32_t end);

private:
    const std::vector<float>& weight(WeightId id);
    // A K or V row as the cache holds it (rounded to kv_type).
    std::vector<float> cached(std::vector<float> row) const;

    const Graph& graph_;
    const model::GgufFile& file_;
    uint32_t n_ctx_;
    quant::DType kv_type_;
    std::map<WeightId, std::vector<float>> weights_;     // dequantized on first use
    std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer, n_ctx rows
    std::vector<uint32_t> ids_;
};

}  // namespace vki::graph
