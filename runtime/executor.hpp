// The Vulkan executor of a model: weights on the device (row slabs within the
// binding range), the fused graph compiled into recorded command buffers per shape
// bucket (n = 1, 2, 4, 8 tokens per step on the decode kernels; 16 .. 512 on the
// prompt kernels: tiled matmul and flash attention), the paged KV cache and the step
// buffer. A step writes token ids, positions and page tables into the step buffer and
// replays the bucket's recording; nothing is recorded per token.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "graph/ir.hpp"
#include "graph/passes.hpp"
#include "model/gguf.hpp"
#include "runtime/kv/kv_cache.hpp"
#include "runtime/vk/device.hpp"

namespace vki {

struct ExecutorOptions {
    uint32_t n_ctx = 0;  // positions per sequence; 0: the model's training context, at most 4096
    uint32_t page_tokens = 16;
    uint32_t slots = 1;  // sequences the KV cache holds at once
    // Bytes of the KV cache's page pool (shared by every slot, prefix pages cached in
    // what is left over); 0: room for every slot's full context.
    uint64_t kv_bytes = 0;
    // Without kv_bytes: this fraction, in (0, 1], of the device's largest device-local
    // heap left after the weights (activations come out of the rest).
    double kv_fraction = 0;
    // Element type of the KV cache: kF16, or kQ8_0 (GGML's q8_0 blocks: 17/32 of the
    // bytes, so a budget holds about twice the tokens, at about 4e-3 relative error per
    // K/V element; needs a head size that is a multiple of 32, else kUnsupported).
    quant::DType kv_type = quant::DType::kF16;
    // Tokens per step a plan is recorded for. Buckets above 8 run the prompt kernels;
    // one whose activations exceed the device's binding range is dropped.
    std::vector<uint32_t> buckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    // Largest weight slab (one storage-buffer binding); 0: the device's maxStorageBufferRange.
    // Lower values split matrices into more row slabs (tests use it to exercise slabs).
    uint64_t max_slab_bytes = 0;
    // Prompt matmuls of Q4_0 / Q8_0 weights quantize their activations to int8 (q8_1
    // blocks) and use integer dot products, where the device has them: about 4e-3
    // relative error per product (what `vkinfer perplexity --kl-divergence` measures);
    // otherwise they run on fp32 (or, with cooperative matrices, fp16) activations.
    bool int8_activations = false;
    // Keys per attention split; 0: chosen from the device's caps.
    uint32_t attention_chunk = 0;
    // Writes a GPU timestamp after every op, so lastOpTimes() can say where a step's
    // time goes (benchmarks; it adds a little time to every step).
    bool profile = false;
};

// GPU time of one op of the last step (ExecutorOptions::profile).
struct OpTime {
    std::string op;      // "matmul", "attention", ...
    std::string detail;  // matmul: the weight's dtype, e.g. "q4_K"
    double us = 0;
};

// What a step reads back.
struct StepOutputs {
    static constexpr uint32_t kAll = UINT32_MAX;
    // The greedy ids (and logits rows) of the step's last `tail` tokens (kAll: every
    // token's). A prompt chunk needs only its last token's: the output matrix skips
    // the others. Callers mixing sequences in a step put the tokens whose outputs they
    // need last.
    uint32_t tail = 1;
    bool logits = false;  // the full logits rows besides the greedy ids
};

struct StepTiming {
    double host_us = 0;    // CPU time of the step: validation, step buffer, submit, read-back
    double device_us = 0;  // waiting for the device
};

class Executor {
public:
    // done/total in bytes of weights uploaded.
    using Progress = std::function<void(uint64_t done, uint64_t total)>;

    // Builds, fuses and compiles the graph, uploads the weights. `file` must outlive
    // the executor (its tensors are read while uploading). Throws kBadFile /
    // kUnsupported for models it cannot run, kUnsupported naming a missing device
    // feature, kOutOfMemory when weights, cache or activations do not fit.
    Executor(vk::Device& device, const model::GgufFile& file, const ExecutorOptions& options = {},
             const Progress& progress = {});
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    const graph::Graph& graph() const;
    vk::Device& device() const;
    uint32_t contextLength() const;
    uint32_t maxStepTokens() const;
    uint32_t vocabSize() const;
    kv::KvCache& kvCache();

    // Runs up to maxStepTokens() tokens: token c at positions[c] of sequence slots[c]
    // (attending to that sequence's cache positions up to its own). Pages are reserved
    // as needed. Returns the greedy (argmax) ids after the last outputs.tail tokens, in
    // order; with outputs.logits their logits rows are read back too (logits()).
    // Throws kInvalidArgument for a token outside the vocabulary or a position beyond
    // the context, kOutOfMemory when the KV cache has no page left for a position.
    std::span<const uint32_t> step(std::span<const uint32_t> tokens, std::span<const uint32_t> positions,
                                   std::span<const uint32_t> slots, StepOutputs outputs = {});
    // Context shift in place: drops positions [keep, keep + drop) of `slot` (whole
    // pages) and moves its later positions down by `drop`, re-rotating their cached K
    // (ops::recordRopeShift) rather than computing them again. False when the cache
    // cannot (KvCache::shift): the caller recomputes instead.
    bool shiftKv(uint32_t slot, uint32_t keep, uint32_t drop);
    // Logits row of token c of the last step run with outputs.logits: one of its last
    // outputs.tail tokens.
    std::span<const float> logits(uint32_t c) const;

    const StepTiming& lastTiming() const;
    // Per-op GPU times of the last step, in graph order; empty without profile or on a
    // device whose compute queue has no timestamps.
    std::vector<OpTime> lastOpTimes() const;
    // Dispatches one step of `bucket` tokens records (the bucket that holds n).
    uint32_t dispatches(uint32_t n) const;
    const graph::MemoryPlan& memoryPlan(uint32_t n) const;
    uint64_t weightBytes() const;
    // Bytes of weights one step reads (every matrix once; the embedding rows aside).
    uint64_t weightBytesPerStep() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vki
