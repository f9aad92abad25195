// Text generation on one sequence of an Executor: prompt processing in chunks of the
// largest plan bucket, then one token per step (greedy on the device, or sampled on
// the host from read-back logits), streaming detokenized text, stopping on
// end-of-generation tokens, stop strings, the token limit or the context's end.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"
#include "runtime/executor.hpp"
#include "runtime/sampler.hpp"

namespace vki {

struct GenerateOptions {
    uint32_t max_tokens = 128;  // generated tokens at most
    SamplingParams sampling;
    std::vector<std::string> stop;  // stop strings (not included in the text)
    bool stop_at_eog = true;        // stop at end-of-generation tokens (EOS, <|eot_id|>, <|im_end|>, ...)
    uint32_t logits_top_k = 0;      // > 0: record the top-k logits at every position
};

// Top-k logits after the token at `position` (for --logits-out).
struct PositionLogits {
    uint32_t position = 0;
    uint32_t token = 0;
    std::vector<std::pair<uint32_t, float>> top;
};

struct GenerateResult {
    std::vector<uint32_t> tokens;  // generated ids (up to and excluding a stop token)
    std::string text;
    std::string stop_reason;     // "eog", "stop string", "length", "context"
    uint32_t prompt_tokens = 0;  // processed this call (a cached prefix is not)
    uint32_t cached_tokens = 0;  // prompt prefix reused from the previous call
    double prompt_seconds = 0;
    double ttft_seconds = 0;  // start to the first generated token
    double generate_seconds = 0;
    uint32_t decode_steps = 0;
    double host_us_per_step = 0;  // mean over decode steps
    std::vector<PositionLogits> logits;
};

class Generator {
public:
    Generator(Executor& executor, const model::Tokenizer& tokenizer);

    // Runs `prompt` (the whole conversation so far: the prefix it shares with what the
    // previous call left in the cache is not computed again) and generates. on_text
    // receives text as it becomes final. Throws kInvalidArgument when the prompt does
    // not fit the context.
    GenerateResult generate(std::span<const uint32_t> prompt, const GenerateOptions& options,
                            const std::function<void(std::string_view)>& on_text = {});

    // Forgets the cached conversation.
    void reset() { cached_.clear(); }

    bool isEndOfGeneration(uint32_t token) const;

private:
    Executor& executor_;
    const model::Tokenizer& tokenizer_;
    std::vector<uint32_t> eog_;
    std::vector<uint32_t> cached_;  // tokens whose K/V are in slot 0, by position
};

}  // namespace vki
