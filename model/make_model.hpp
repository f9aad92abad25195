// Random-weight models of any llama / qwen2 shape with a real tokenizer: what tests
// and benchmarks run when no downloaded model is at hand. The weights are random, so
// the text is too; the shapes, formats and tokenizer are real.
#pragma once

#include <filesystem>
#include <functional>

#include "model/arch.hpp"
#include "model/quantize.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model {

struct MakeModelOptions {
    ModelConfig config;  // n_vocab 0: the vocabulary's size
    QuantRecipe recipe = recipeFromName("f16");
    uint64_t seed = 1;
};

// Weights are deterministic in (seed, tensor, element): matrices uniform with standard
// deviation 1/sqrt(input size), so activations stay O(1) through the layers and the
// logits are not flat; embeddings standard deviation 1; norm weights 1 +- 0.1; biases
// +- 0.1. Throws kInvalidArgument when config.n_vocab disagrees with the vocabulary.
void makeModel(const MakeModelOptions& options, const Vocab& vocab, const std::filesystem::path& out,
               const std::function<void(size_t done, size_t total)>& progress = {});

// The generator behind makeModel, for tests that rebuild a tensor's weights:
// `count` values of tensor `tensor_index` (in tensorSpecs order) from element `first`.
void randomWeights(uint64_t seed, size_t tensor_index, const TensorSpec& spec, uint64_t first, std::span<float> out);

}  // namespace vki::model
