// vkinfer C++ API. Exceptions thrown by vkinfer derive from vki::Error.
//
// Engine serves many generation requests on one model at once: continuous batching
// (one pass over the weights for every running sequence), a paged KV cache whose
// pages are shared between requests with a common prefix, and preemption when the
// cache's memory budget runs out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vkinfer/vkinfer.h"

namespace vki {

// Mirrors vki_status; the values are the same.
enum class ErrorCode : int {
    kInvalidArgument = VKI_ERROR_INVALID_ARGUMENT,
    kNoVulkan = VKI_ERROR_NO_VULKAN,
    kNoDevice = VKI_ERROR_NO_DEVICE,
    kUnsupported = VKI_ERROR_UNSUPPORTED,
    kOutOfMemory = VKI_ERROR_OUT_OF_MEMORY,
    kDeviceLost = VKI_ERROR_DEVICE_LOST,
    kTimeout = VKI_ERROR_TIMEOUT,
    kBadFile = VKI_ERROR_BAD_FILE,
    kIo = VKI_ERROR_IO,
    kVulkan = VKI_ERROR_VULKAN,
    kInternal = VKI_ERROR_INTERNAL,
};

// What the caller could not foresee: a bad file, a missing feature, out of memory,
// a lost device. The message says what happened and what to do about it.
class VKI_API Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message);
    ~Error() override;

    ErrorCode code() const noexcept { return code_; }
    vki_status status() const noexcept { return static_cast<vki_status>(code_); }

private:
    ErrorCode code_;
};

// How the next token is picked (llama.cpp's chain: penalties, top-k, top-p, min-p,
// temperature, draw).
struct SamplingParams {
    float temperature = 0.8f;  // 0 = greedy (argmax)
    int32_t top_k = 40;        // 0 = off
    float top_p = 0.95f;       // 1 = off
    float min_p = 0.05f;       // 0 = off; relative to the most likely token
    // llama.cpp semantics: logit > 0 ? logit / repeat_penalty : logit * repeat_penalty.
    float repeat_penalty = 1.0f;  // 1 = off
    // OpenAI semantics: logit -= presence_penalty * (count > 0) + frequency_penalty * count.
    float presence_penalty = 0.0f;   // 0 = off
    float frequency_penalty = 0.0f;  // 0 = off
    // Every penalty looks at the last penalty_last_n accepted tokens (prompt included).
    // 0 turns all penalties off.
    int32_t penalty_last_n = 64;
    // The same seed, params and logits give the same tokens on every run and platform.
    // Callers who want a different reply each time pass a fresh random seed.
    uint64_t seed = 0;

    // True when sample() is the argmax of the penalized logits and draws no random number.
    bool greedy() const noexcept { return temperature <= 0.0f || top_k == 1; }

    // Throws vki::Error(kInvalidArgument) naming the first bad field: temperature < 0,
    // top_k < 0, top_p outside (0, 1], min_p outside [0, 1), repeat_penalty <= 0,
    // non-finite presence/frequency penalties, penalty_last_n outside [0, kMaxPenaltyLastN].
    void validate() const;

    static constexpr int32_t kMaxPenaltyLastN = 1 << 20;
};

// Element type of the KV cache.
enum class KvType {
    kF16,   // two bytes per K/V element
    kQ8_0,  // GGML's q8_0 blocks (32 int8 codes and an f16 scale): 17/32 of the bytes, so
            // a budget holds about twice the tokens, at about 4e-3 relative error per
            // element; needs a model whose head size is a multiple of 32
};

struct EngineOptions {
    std::string model;            // GGUF file
    std::string device = "auto";  // "auto" (the best), an index or a name substring
    uint32_t context = 0;         // positions per sequence; 0: the model's, at most 4096
    uint32_t parallel = 16;       // sequences running at once at most
    // The KV cache's page pool in bytes; 0: every running sequence's full context.
    // Pages left over keep shared prefixes cached.
    uint64_t kv_budget_bytes = 0;
    // Without kv_budget_bytes: this fraction, in (0, 1], of the device memory left
    // after the weights.
    double kv_budget_fraction = 0;
    uint32_t page_tokens = 16;
    uint32_t step_tokens = 0;  // tokens per model step at most; 0: the largest step recorded
    bool prefix_cache = true;  // reuse the KV pages of cached prefixes
    // Prompt matmuls of Q4_0 / Q8_0 weights on int8 activations (integer dot products):
    // faster where the device accelerates them, about 4e-3 relative error per product.
    bool int8_activations = false;
    // The KV cache's element type. Construction throws Error(kUnsupported) for kQ8_0 on
    // a model whose head size is not a multiple of 32.
    KvType kv_type = KvType::kF16;
    // Weight upload progress, 0..1, during construction.
    std::function<void(double)> progress;
};

struct Completion {
    uint64_t id = 0;
    bool finished = false;
    std::vector<uint32_t> tokens;  // generated so far
    std::string text;              // final text so far
    // "eog", "stop string", "length", "context", "cancelled", or "error" (see error).
    std::string stop_reason;
    std::string error;
    ErrorCode error_code = ErrorCode::kInternal;
    uint32_t prompt_tokens = 0;
    uint32_t cached_tokens = 0;    // prompt positions found in the prefix cache
    uint32_t computed_tokens = 0;  // positions computed (recomputation after preemption included)
    uint32_t preemptions = 0;
    uint32_t context_shifts = 0;
    double queue_seconds = 0;  // submission to admission
    double ttft_seconds = 0;   // submission to the first token
    double total_seconds = 0;
};

struct GenerationRequest {
    std::string prompt;            // text, tokenized with the model's BOS where it wants one
    std::vector<uint32_t> tokens;  // or the prompt as token ids (used when not empty)
    uint32_t max_tokens = 128;
    SamplingParams sampling;
    std::vector<std::string> stop;  // stop strings (not included in the text)
    bool stop_at_eog = true;        // stop at end-of-generation tokens (EOS, end of turn)
    // At the context's end: keep the first KV page's tokens (an attention sink), drop
    // the oldest half of the rest in whole pages, move what remains down (its cached K
    // re-rotated to the new positions) and go on; without it the request stops there
    // ("context").
    bool context_shift = false;
    // Called on the engine's thread, never with the engine's lock held: each token kept,
    // text as it becomes final, and the completion once at the end. A request with
    // on_done is forgotten after it; one without is kept for wait().
    std::function<void(uint32_t token)> on_token;
    std::function<void(std::string_view text)> on_text;
    std::function<void(const Completion&)> on_done;
};

struct EngineStats {
    uint32_t queued = 0;   // waiting for a slot or for pages
    uint32_t running = 0;  // holding KV pages
    uint32_t pages_used = 0, pages_cached = 0, pages_free = 0;
    uint64_t kv_bytes = 0;
    uint64_t prefix_hit_tokens = 0;  // prompt positions taken from cached pages
    uint64_t computed_tokens = 0;    // positions run through the model
    uint64_t generated_tokens = 0;
    uint64_t steps = 0;
    uint64_t preemptions = 0;
    double busy_seconds = 0;       // time spent in model steps
    double tokens_per_second = 0;  // generated tokens per busy second
};

// Thread-safe: any thread may submit, cancel, poll and wait. Steps run on a thread of
// the engine's own while requests are pending.
class VKI_API Engine {
public:
    // Opens the device and the model and uploads the weights. Throws Error: kBadFile,
    // kUnsupported, kNoDevice, kOutOfMemory, ...
    explicit Engine(const EngineOptions& options);
    // Cancels what is pending and stops the engine's thread.
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Queues a request and returns its id at once. Problems with the request (an empty
    // or too long prompt, bad sampling parameters, more KV pages than the budget) end
    // it with stop_reason "error". Throws kDeviceLost (or the error that stopped the
    // engine) once the device has failed.
    uint64_t submit(GenerationRequest request);
    // Queues a request whose prompt is `parent`'s followed by request.tokens (or
    // request.prompt's text, without BOS); either may be empty: more samples of one
    // prompt, with their own sampling parameters, limits and callbacks. Once the
    // parent has computed its prompt, the fork starts on its KV pages (copying only a
    // partly filled last page), so the shared prompt is computed once. Throws
    // kInvalidArgument when `parent` is not queued or running.
    uint64_t fork(uint64_t parent, GenerationRequest request);
    // Ends a pending request as "cancelled" at the next step; false if it is unknown
    // or already finished.
    bool cancel(uint64_t id);
    // A snapshot of a request kept for wait(). Throws kInvalidArgument for an unknown id.
    Completion poll(uint64_t id) const;
    // Blocks until the request finishes, returns it and forgets it.
    Completion wait(uint64_t id);
    EngineStats stats() const;

    // add_bos: BOS first where the model wants one.
    std::vector<uint32_t> tokenize(std::string_view text, bool add_bos = true) const;
    std::string detokenize(std::span<const uint32_t> tokens) const;
    uint32_t contextLength() const;
    std::string deviceName() const;
    std::string modelName() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vki
