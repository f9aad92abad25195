// Model architectures as GGUF describes them: hyper-parameters under "<arch>.*" keys
// and the tensor names and shapes llama.cpp's converters write. One table serves the
// converter, make-model, quantize's recipes and (later) the graph builders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf.hpp"

namespace vki::model {

enum class Arch { kLlama, kQwen2 };

const char* archName(Arch arch);
// "llama" / "qwen2"; throws kUnsupported listing the supported ones otherwise.
Arch archFromName(std::string_view name);

enum class RopeScaling { kNone, kLinear, kLlama3 };

struct ModelConfig {
    Arch arch = Arch::kLlama;
    std::string name;
    uint32_t n_vocab = 0;
    uint32_t n_ctx = 0;   // training context length
    uint32_t n_embd = 0;  // hidden size
    uint32_t n_layer = 0;
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t n_ff = 0;      // feed-forward hidden size
    uint32_t head_dim = 0;  // n_embd / n_head unless the checkpoint says otherwise
    float rms_eps = 1e-5f;
    float rope_theta = 10000.0f;
    RopeScaling rope_scaling = RopeScaling::kNone;
    float rope_factor = 1.0f;
    // Llama 3 frequency scaling.
    float rope_low_freq_factor = 1.0f;
    float rope_high_freq_factor = 4.0f;
    uint32_t rope_original_ctx = 0;
    bool tied_embeddings = false;  // no output.weight: the token embedding is reused
    // Sliding-window attention ("<arch>.attention.sliding_window"): a token attends to
    // the last `sliding_window` positions, its own included. 0: to every earlier one.
    uint32_t sliding_window = 0;

    // Throws kBadFile naming the field when a dimension is zero or inconsistent
    // (heads not dividing, kv heads not dividing heads).
    void validate() const;
};

// Writes general.architecture, general.name and the "<arch>.*" keys.
void writeConfig(GgufWriter& writer, const ModelConfig& config);
// Reads them back; kUnsupported for an unknown architecture, kBadFile for missing keys.
ModelConfig readConfig(const GgufFile& file);

struct TensorSpec {
    std::string name;
    std::vector<uint64_t> shape;  // ggml order
    bool is_norm_or_bias;         // 1-D tensors kept in f32 by converters and quantizers
};

// Every tensor the architecture has, in llama.cpp's names and order.
std::vector<TensorSpec> tensorSpecs(const ModelConfig& config);

// Llama 3 rope frequency divisors ("rope_freqs.weight", head_dim / 2 floats) as
// llama.cpp's converter computes them; empty unless rope_scaling is kLlama3.
std::vector<float> llama3RopeFactors(const ModelConfig& config);

// llama.cpp's general.file_type for a file whose matrices are mostly `type`
// (q4_K with the _M recipe is its own value).
uint32_t ggufFileType(quant::DType type, bool k_medium_recipe);

}  // namespace vki::model
