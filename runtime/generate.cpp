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

Generator::Generator(Executor& executor, const model::Tokenizer& tokenizer)
    : executor_(executor), tokenizer_(tokenizer) {
    const model::Vocab& v = tokenizer.vocab();
    if (v.eos_id >= 0) eog_.push_back(static_cast<uint32_t>(v.eos_id));
    // End-of-turn tokens of the common chat formats, where the vocabulary has them.
    for (const char* name : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>"}) {
        const auto it = std::find(v.tokens.begin(), v.tokens.end(), name);
        if (it != v.tokens.end()) eog_.push_back(static_cast<uint32_t>(it - v.tokens.begin()));
    }
}

bool Generator::isEndOfGeneration(uint32_t token) const {
    return std::find(eog_.begin(), eog_.end(), token) != eog_.end();
}

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
    StopMatcher stops(options.stop);
    auto detok = tokenizer_.stream();
    // Plain greedy decoding takes the device's argmax; anything else samples on the host.
    const SamplingParams& sp = options.sampling;
    const bool device_greedy =
        sp.greedy() && (sp.penalty_last_n == 0 ||
                        (sp.repeat_penalty == 1.0f && sp.presence_penalty == 0.0f && sp.frequency_penalty == 0.0f));
    const bool need_logits = !device_greedy || options.logits_top_k > 0;

    // Reuse the cached prefix; at least the last prompt token runs, for its logits.
    size_t keep = 0;
    while (keep < cached_.size() && keep + 1 < prompt.size() && cached_[keep] == prompt[keep]) ++keep;
    cached_.resize(keep);
    result.cached_tokens = static_cast<uint32_t>(keep);
    result.prompt_tokens = static_cast<uint32_t>(prompt.size() - keep);

    const uint32_t slot = 0;
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
    result.stop_reason = "length";
    auto emit = [&](std::string_view text) {
        result.text += text;
        if (on_text && !text.empty()) on_text(text);
    };
    while (result.tokens.size() < options.max_tokens) {
        if (options.stop_at_eog && isEndOfGeneration(next)) {
            result.stop_reason = "eog";
            break;
        }
        result.tokens.push_back(next);
        sampler.accept(next);
        const auto r = stops.push(detok.push(static_cast<int32_t>(next)));
        emit(r.text);
        if (r.stopped) {
            result.stop_reason = "stop string";
            break;
        }
        if (result.tokens.size() == options.max_tokens) break;
        if (cached_.size() + 1 >= n_ctx) {
            result.stop_reason = "context";
            break;
        }
        const uint32_t token = next;
        run(std::span(&token, 1), true);
        host_us += executor_.lastTiming().host_us;
        ++result.decode_steps;
    }
    if (!stops.stopped()) {
        emit(stops.push(detok.flush()).text);
        if (!stops.stopped()) emit(stops.flush());
    }
    result.generate_seconds = seconds(Clock::now() - prompt_done);
    result.host_us_per_step = result.decode_steps ? host_us / result.decode_steps : 0;
    return result;
}

}  // namespace vki
