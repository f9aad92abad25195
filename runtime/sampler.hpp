// Token sampling and stop strings: host code, no Vulkan.
//
// Sampler picks the next token from a row of logits with llama.cpp's default chain
// (common/sampling.cpp): penalties -> top-k -> top-p -> min-p -> temperature -> draw.
// StopMatcher cuts a streamed, detokenized reply at the first stop string without ever
// emitting a byte of that stop string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vkinfer/vkinfer.hpp"

namespace vki {

// SamplingParams: include/vkinfer/vkinfer.hpp (part of the Engine API).

// xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/) seeded through splitmix64.
// Bit-identical on every platform, unlike the <random> distributions.
class Xoshiro256 {
public:
    explicit Xoshiro256(uint64_t seed) { reseed(seed); }

    void reseed(uint64_t seed) noexcept;
    uint64_t next() noexcept;
    // Uniform in [0, 1) with 53 random bits.
    double nextDouble() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    uint64_t s_[4];
};

// Not thread-safe: one Sampler per sequence. Memory is allocated once, in the
// constructor; sample() and accept() allocate nothing.
class Sampler {
public:
    // Throws vki::Error(kInvalidArgument) when params.validate() does or n_vocab is 0.
    Sampler(const SamplingParams& params, uint32_t n_vocab);

    // Picks a token from `logits` (n_vocab values; -inf masks a token). Does not accept
    // it: call accept() with the token that is actually kept. Greedy params return the
    // first index of the largest penalized logit; otherwise exactly one random number is
    // drawn per call. Throws vki::Error(kInvalidArgument) when logits.size() != n_vocab,
    // when a logit is NaN ("logits contain NaN") or when every logit is -inf.
    uint32_t sample(std::span<const float> logits);

    // Records a token in the penalty window. Prompt tokens are accepted too, so the
    // penalties see them. Throws vki::Error(kInvalidArgument) when token >= n_vocab.
    void accept(uint32_t token);

    // Back to the state right after construction: empty history, RNG reseeded.
    void reset();

    // The penalty step of sample(), in place, on a row of n_vocab logits. For tests and
    // for callers that run the rest of the chain elsewhere.
    void applyPenalties(std::span<float> logits) const;

    const SamplingParams& params() const noexcept { return params_; }
    uint32_t vocabSize() const noexcept { return n_vocab_; }

private:
    struct Candidate {
        float logit;
        uint32_t id;
    };

    bool penaltiesActive() const noexcept;
    std::span<const uint32_t> windowTokens() const;
    float penalized(float logit, uint32_t count) const noexcept;
    size_t topK();
    size_t topPSorted(size_t n, float max);
    size_t topPAll(float max);
    size_t allCandidates();
    size_t minP(size_t n, float max);
    uint32_t draw(size_t n, float max);

    SamplingParams params_;
    uint32_t n_vocab_;
    Xoshiro256 rng_;
    std::vector<float> logits_;          // (n_vocab) scratch for sample(): penalized logits
    std::vector<Candidate> candidates_;  // (n_vocab) scratch for sample(): what the filters kept
    // Penalty window: a ring of the last penalty_last_n accepted tokens and their counts.
    std::vector<uint32_t> history_;           // (penalty_last_n)
    size_t history_head_ = 0;                 // next slot to write
    size_t history_size_ = 0;                 // slots filled, <= history_.size()
    std::vector<uint32_t> counts_;            // (n_vocab) occurrences in the window
    mutable std::vector<uint32_t> distinct_;  // (penalty_last_n) scratch for windowTokens()
    mutable std::vector<uint8_t> visited_;    // (n_vocab) scratch, all zero between calls
};

// Holds back streamed text that might be the start of a stop string and reports when
// one has completed. Stateful and not thread-safe: one per reply.
class StopMatcher {
public:
    struct Result {
        // Text that can be shown now. Points into the matcher; valid until its next call.
        std::string_view text;
        // A stop string completed: `text` ends right before it, and everything after
        // is dropped (later push() and flush() return nothing).
        bool stopped = false;
    };

    // Throws vki::Error(kInvalidArgument) when a stop string is empty. No stop strings
    // is allowed: the matcher then only holds back incomplete UTF-8 sequences.
    explicit StopMatcher(std::vector<std::string> stops);

    // Appends one detokenized piece (any bytes; it may split a code point). Emitted text
    // never ends inside a UTF-8 sequence, never contains a stop string, and keeps back
    // any suffix that is a prefix of a stop string. When several stop strings occur the
    // one that completes first wins (the longest on a tie), so the result does not depend
    // on how the text was split into pieces.
    Result push(std::string_view piece);

    // End of the stream: returns everything still held back, as is (an incomplete
    // UTF-8 sequence at the very end is returned too: the stream ended inside it).
    std::string_view flush();

    bool stopped() const noexcept { return matched_.has_value(); }
    // Index into the constructor's stop strings of the one that completed.
    std::optional<size_t> matchedStop() const noexcept { return matched_; }
    const std::vector<std::string>& stops() const noexcept { return stops_; }

    // Forgets held text and any match, for the next reply.
    void reset();

private:
    size_t heldSuffix() const;

    std::vector<std::string> stops_;
    std::string pending_;  // pushed, not yet emitted
    std::string out_;      // what the last call returned
    std::optional<size_t> matched_;
};

}  // namespace vki
