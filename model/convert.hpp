// Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer files) of a
// Llama- or Qwen2-family model -> GGUF, in llama.cpp's conventions, ready for quantize.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "quant/quant.hpp"

namespace vki::model {

struct ConvertOptions {
    quant::DType out_type = quant::DType::kF16;  // f32, f16 or bf16 for the matrices; 1-D tensors stay f32
    bool vocab_only = false;                     // tokenizer (and config) only, no tensors
};

struct ConvertReport {
    std::string arch;
    size_t tensors = 0;
    uint64_t parameters = 0;
    size_t vocab = 0;
};

// Throws kIo for missing files, kBadFile naming the file and field for malformed ones
// (including missing or misshapen tensors), kUnsupported for other architectures or
// rope scalings (the message lists what is supported).
ConvertReport convertHfFolder(const std::filesystem::path& folder, const std::filesystem::path& out,
                              const ConvertOptions& options,
                              const std::function<void(size_t done, size_t total)>& progress = {});

}  // namespace vki::model
