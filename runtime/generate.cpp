#include "runtime/generate.hpp"

#include <algorithm>
#include <chrono>

#include "common/error.hpp"

namespace vki {

namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

std::vector<std::pair<uint32_t, float>> topK(std::span<const float> logits, uint32_t k) {
    std::vector<uint32_t> ids(logits.size());
    for (uint32_t i = 0; i < ids.size(); ++i) ids[i] = i;
    k = std::min<uint32_t>(k, static_cast<uint32_t>(ids.size()));
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](uint32_t a, uint32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<std::pair<uint32_t, float>> out;
    for (uint32_t i = 0; i < k; ++i) out.emplace_back(ids[i], logits[ids[i]]);
    return out;
}

}  // namespace

std::vector<uint32_t> endOfGenerationTokens(const model::Tokenizer& tokenizer) {
    const model::Vocab& v = tokenizer.vocab();
    std::vector<uint32_t> eog;
    if (v.eos_id >= 0) eog.push_back(static_cast<uint32_t>(v.eos_id));
    for (const char* name : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>"}) {
        const auto it = std::find(v.tokens.begin(), v.tokens.end(), name);
        if (it != v.tokens.end()) eog.push_back(static_cast<uint32_t>(it - v.tokens.begin()));
    }
    return eog;
}

TokenOutput::TokenOutput(const model::Tokenizer& tokenizer, const GenerateOptions& options,
                         std::span<const uint32_t> eog)
    : eog_(eog),
      max_tokens_(options.max_tokens),
      stop_at_eog_(options.stop_at_eog),
      stops_(options.stop),
      detok_(tokenizer.stream()) {}

void TokenOutput::emit(std::string_view text, const TextSink& on_text) {
    text_ += text;
    if (on_text && !text.empty()) on_text(text);
}

bool TokenOutput::push(uint32_t token, const TextSink& on_text) {
    VKI_ASSERT(!done());
    if (tokens_.size() >= max_tokens_) {
        finish("length", on_text);
        return false;
    }
    if (stop_at_eog_ && std::find(eog_.begin(), eog_.end(), token) != eog_.end()) {
        finish("eog", on_text);
        return false;
    }
    tokens_.push_back(token);
    const auto r = stops_.push(detok_.push(static_cast<int32_t>(token)));
    emit(r.text, on_text);
    if (r.stopped) {
        reason_ = "stop string";
        return false;
    }
    if (tokens_.size() == max_tokens_) {
        finish("length", on_text);
        return false;
    }
    return true;
}

void TokenOutput::finish(const std::string& reason, const TextSink& on_text) {
    VKI_ASSERT(!done() && !reason.empty());
    reason_ = reason;
    if (!stops_.stopped()) {
        emit(stops_.push(detok_.flush()).text, on_text);
        if (!stops_.stopped()) emit(stops_.flush(), on_text);
    }
}

Generator::Generator(Executor& executor, const model::Tokenizer& tokenizer)
    : executor_(executor), tokenizer_(tokenizer), eog_(endOfGenerationTokens(tokenizer)) {}

GenerateResult Generator::generate(std::span<const uint32_t> prompt, const GenerateOptions& options,
                                   const std::function<void(std::string_view)>& on_text) {
    const uint32_t n_ctx = executor_.contextLength();
    if (prompt.empty()) throw Error(ErrorCode::kInvalidArgument, "the prompt is empty");
    if (prompt.size() >= n_ctx) {
        throw Error(ErrorCode::kInvalidArgument,
                    "the prompt has " + std::to_string(prompt.size()) + " tokens, which does not fit the context of " +
                        std::to_string(n_ctx) + " tokens (raise --ctx, or shorten the prompt)");
    }
    options.sampling.validate();
    const auto start = Clock::now();
    GenerateResult result;
    Sampler sampler(options.sampling, executor_.vocabSize());
    for (uint32_t t : prompt) sampler.accept(t);
    // Plain greedy decoding takes the device's argmax; anything else samples on the host.
    const SamplingParams& sp = options.sampling;
    const bool device_greedy =
        sp.greedy() && (sp.penalty_last_n == 0 ||
                        (sp.repeat_penalty == 1.0f && sp.presence_penalty == 0.0f && sp.frequency_penalty == 0.0f));
    const bool need_logits = !device_greedy || options.logits_top_k > 0;

    // Reuse the cached prefix; at least the last prompt token runs, for its logits.
    size_t keep = 0;
    while (keep < cached_.size() && keep + 1 < prompt.size() && cached_[keep] == prompt[keep]) ++keep;
    // A sliding-window sequence may have let go of the pages an earlier position reads.
    const uint32_t slot = 0;
    keep = executor_.kvCache().rewind(slot, static_cast<uint32_t>(keep));
    cached_.resize(keep);
    result.cached_tokens = static_cast<uint32_t>(keep);
    result.prompt_tokens = static_cast<uint32_t>(prompt.size() - keep);

    std::vector<uint32_t> positions, slots;
    uint32_t next = 0;
    auto run = [&](std::span<const uint32_t> tokens, bool last) {
        positions.resize(tokens.size());
        slots.assign(tokens.size(), slot);
        for (size_t i = 0; i < tokens.size(); ++i) positions[i] = static_cast<uint32_t>(cached_.size() + i);
        const bool logits = need_logits && (last || options.logits_top_k > 0);
        const auto ids = executor_.step(tokens, positions, slots,
                                        {.tail = options.logits_top_k > 0 ? StepOutputs::kAll : 1, .logits = logits});
        if (options.logits_top_k > 0) {
            for (uint32_t c = 0; c < tokens.size(); ++c) {
                result.logits.push_back({positions[c], tokens[c], topK(executor_.logits(c), options.logits_top_k)});
            }
        }
        const uint32_t lastc = static_cast<uint32_t>(tokens.size() - 1);
        if (last) next = device_greedy ? ids.back() : sampler.sample(executor_.logits(lastc));
        cached_.insert(cached_.end(), tokens.begin(), tokens.end());
    };
    for (size_t at = keep; at < prompt.size();) {
        const size_t n = std::min<size_t>(executor_.maxStepTokens(), prompt.size() - at);
        run(prompt.subspan(at, n), at + n == prompt.size());
        at += n;
    }
    const auto prompt_done = Clock::now();
    result.prompt_seconds = seconds(prompt_done - start);
    result.ttft_seconds = result.prompt_seconds;

    double host_us = 0;
    TokenOutput out(tokenizer_, options, eog_);
    const TokenOutput::TextSink sink = on_text;
    while (out.push(next, sink)) {
        sampler.accept(next);
        if (cached_.size() + 1 >= n_ctx) {
            out.finish("context", sink);
            break;
        }
        const uint32_t token = next;
        run(std::span(&token, 1), true);
        host_us += executor_.lastTiming().host_us;
        ++result.decode_steps;
    }
    result.tokens = out.tokens();
    result.text = out.text();
    result.stop_reason = out.reason();
    result.generate_seconds = seconds(Clock::now() - prompt_done);
    result.host_us_per_step = result.decode_steps ? host_us / result.decode_steps : 0;
    return result;
}

}  // namespace vki
