// Architecture builders: a GGUF model's hyper-parameters and tensors -> the plain op
// graph (before fusion). Every tensor is checked against what the architecture needs.
#pragma once

#include "graph/ir.hpp"
#include "model/gguf.hpp"

namespace vki::graph {

// Throws kUnsupported for an architecture vkinfer cannot run (listing those it can),
// kBadFile naming the tensor when one is missing or has the wrong shape.
Graph buildGraph(const model::GgufFile& file);

// The RoPE frequencies of a config, with the optional "rope_freqs.weight" divisors
// (Llama 3 files carry them; empty otherwise).
AttentionConfig attentionConfig(const model::ModelConfig& config, std::span<const float> freq_factors);

}  // namespace vki::graph
