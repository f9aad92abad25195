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
    // Batched requests: at the context's end, shift instead of stopping (contextShiftDrop()).
    bool context_shift = false;
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

// The end-of-generation tokens of a vocabulary: EOS and the end-of-turn tokens of the
// common chat formats it has.
std::vector<uint32_t> endOfGenerationTokens(const model::Tokenizer& tokenizer);

// What happens to each generated token: the end-of-generation tokens, stop strings and
// the token limit end the generation; the text comes out as it becomes final (a stop
// string and what follows it never do).
class TokenOutput {
public:
    using TextSink = std::function<void(std::string_view)>;

    TokenOutput(const model::Tokenizer& tokenizer, const GenerateOptions& options, std::span<const uint32_t> eog);

    // Takes the next generated token; false when the generation has ended, at or
    // before it (an end-of-generation token is not kept), with reason() set.
    bool push(uint32_t token, const TextSink& on_text);
    // Ends the generation for a reason of the caller's ("context", "cancelled", ...)
    // and sends the text held back for a possible stop string.
    void finish(const std::string& reason, const TextSink& on_text);

    const std::vector<uint32_t>& tokens() const { return tokens_; }
    const std::string& text() const { return text_; }
    const std::string& reason() const { return reason_; }
    bool done() const { return !reason_.empty(); }

private:
    void emit(std::string_view text, const TextSink& on_text);

    std::span<const uint32_t> eog_;
    uint32_t max_tokens_;
    bool stop_at_eog_;
    StopMatcher stops_;
    model::Tokenizer::Stream detok_;
    std::vector<uint32_t> tokens_;
    std::string text_;
    std::string reason_;
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

private:
    Executor& executor_;
    const model::Tokenizer& tokenizer_;
    std::vector<uint32_t> eog_;
    std::vector<uint32_t> cached_;  // tokens whose K/V are in slot 0, by position
};

}  // namespace vki
