// Quantization recipes and whole-model quantization (`vkinfer quantize`, make-model).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.hpp"

namespace vki::model {

// A target like llama.cpp's: one base type, and for the K-quant "_m" recipes more
// bits where they matter most (output, attn_v and ffn_down of some layers).
struct QuantRecipe {
    std::string name;  // "q4_k_m", "q8_0", ...
    quant::DType base = quant::DType::kF16;
    bool k_medium = false;
};

// f32, f16, bf16, q4_0, q4_1, q8_0, q4_k_s (= q4_k), q4_k_m, q5_k_s (= q5_k), q5_k_m, q6_k.
// Throws kInvalidArgument listing them for anything else.
QuantRecipe recipeFromName(std::string_view name);
std::vector<std::string> recipeNames();

// The type `recipe` gives a tensor. 1-D tensors (norms, biases, rope factors) stay f32;
// rows that the chosen block size does not divide fall back to q8_0, then f16.
quant::DType recipeType(const QuantRecipe& recipe, const std::string& tensor, const std::vector<uint64_t>& shape,
                        uint32_t n_layer);

// Encodes rows of f32 into `type`, in parallel over rows. Also accumulates the squared
// error of the round trip and the squared values, for reports.
struct QuantError {
    double sum_sq_error = 0;
    double sum_sq_value = 0;
    uint64_t elements = 0;
    double relativeRmse() const;
};
void encodeRows(quant::DType type, std::span<const float> src, uint64_t row_length, std::span<std::byte> dst,
                QuantError* error = nullptr);

struct QuantizeReport {
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    std::map<std::string, uint32_t> tensors_by_type;  // output type name -> count
    std::map<std::string, QuantError> error_by_type;  // output type name -> round-trip error
};

// Writes `in` quantized per `recipe` to `out`. `progress(done, total, tensor)` is called
// before each tensor. A tensor that is already block-quantized is re-encoded only with
// `allow_requantize` (it compounds the error); otherwise that is kInvalidArgument.
using QuantizeProgress = std::function<void(size_t done, size_t total, const std::string& tensor)>;
QuantizeReport quantizeModel(const GgufFile& in, const std::filesystem::path& out, const QuantRecipe& recipe,
                             bool allow_requantize = false, const QuantizeProgress& progress = {});

}  // namespace vki::model
