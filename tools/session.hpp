// What `run`, `chat` and the benchmarks share: the device, the model file, its
// tokenizer and executor, loaded with a progress bar; and the sampling flags.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "model/gguf.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "runtime/executor.hpp"
#include "runtime/sampler.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/instance.hpp"

namespace vki::tools {

struct ModelOptions {
    std::string model;
    std::string device = "auto";
    uint32_t ctx = 0;
    bool int8_activations = false;              // ExecutorOptions::int8_activations
    quant::DType kv_type = quant::DType::kF16;  // ExecutorOptions::kv_type
};
void addModelOptions(CLI::App* app, ModelOptions& options);
void addSamplingOptions(CLI::App* app, SamplingParams& params);
// --kv-type f16|q8_0 (also part of addModelOptions).
void addKvTypeOption(CLI::App* app, quant::DType& kv_type);

struct Session {
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<vk::Device> device;
    std::unique_ptr<model::GgufFile> file;
    std::unique_ptr<model::Tokenizer> tokenizer;
    std::unique_ptr<Executor> executor;
    double load_seconds = 0;
};

// Opens the device and the model, uploads the weights (progress bar on stderr) and
// prints one summary line to stderr.
std::unique_ptr<Session> openSession(const ModelOptions& options);

}  // namespace vki::tools
