#include "runtime/sampler.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "common/error.hpp"

namespace vki {
namespace {

[[noreturn]] void invalid(const char* field, const char* rule, double got, const char* hint = "") {
    char message[256];
    std::snprintf(message, sizeof(message), "SamplingParams: %s must be %s (got %g)%s", field, rule, got, hint);
    throw Error(ErrorCode::kInvalidArgument, message);
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

// exp((logit - max) / temperature) in double: the same distribution as softmax(logit / T)
// without overflowing for small T. A +inf max keeps only the +inf logits.
double weight(float logit, double max, double temperature) {
    if (static_cast<double>(logit) == max) return 1.0;
    return std::exp((static_cast<double>(logit) - max) / temperature);
}

// UTF-8 lead bytes give the sequence length; 0 for a continuation or invalid byte.
size_t utf8Length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Bytes at the end of `text` that start a valid but unfinished UTF-8 sequence.
size_t incompleteUtf8Tail(std::string_view text) {
    const size_t n = text.size();
    for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
        const auto byte = static_cast<unsigned char>(text[n - back]);
        if ((byte & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
        const size_t length = utf8Length(byte);
        return length > back ? back : 0;
    }
    return 0;
}

// A strict total order (higher logit first, then lower id) so that partial sorts give
// the same result with every standard library.
constexpr auto kBefore = [](const auto& a, const auto& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
};

}  // namespace

void SamplingParams::validate() const {
    if (!(temperature >= 0.0f) || !std::isfinite(temperature))
        invalid("temperature", ">= 0 and finite", temperature, "; use 0 for greedy decoding");
    if (top_k < 0) invalid("top_k", ">= 0", top_k, "; use 0 to turn top-k off");
    if (!(top_p > 0.0f && top_p <= 1.0f)) invalid("top_p", "in (0, 1]", top_p, "; use 1 to turn top-p off");
    if (!(min_p >= 0.0f && min_p < 1.0f)) invalid("min_p", "in [0, 1)", min_p, "; use 0 to turn min-p off");
    if (!(repeat_penalty > 0.0f) || !std::isfinite(repeat_penalty))
        invalid("repeat_penalty", "> 0 and finite", repeat_penalty, "; use 1 to turn it off");
    if (!std::isfinite(presence_penalty)) invalid("presence_penalty", "finite", presence_penalty);
    if (!std::isfinite(frequency_penalty)) invalid("frequency_penalty", "finite", frequency_penalty);
    if (penalty_last_n < 0 || penalty_last_n > kMaxPenaltyLastN)
        invalid("penalty_last_n", "in [0, 1048576]", penalty_last_n, "; use 0 to turn penalties off");
}

void Xoshiro256::reseed(uint64_t seed) noexcept {
    // splitmix64 never yields four zero words, the one state xoshiro must avoid.
    for (uint64_t& word : s_) word = splitmix64(seed);
}

uint64_t Xoshiro256::next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

// ---- Sampler -----------------------------------------------------------------

Sampler::Sampler(const SamplingParams& params, uint32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
    params_.validate();
    if (n_vocab == 0) throw Error(ErrorCode::kInvalidArgument, "Sampler: the vocabulary is empty (n_vocab = 0)");
    logits_.resize(n_vocab);
    candidates_.resize(n_vocab);
    history_.resize(static_cast<size_t>(params_.penalty_last_n));
    distinct_.resize(history_.size());
    counts_.resize(n_vocab);
    visited_.resize(n_vocab);
}

void Sampler::reset() {
    std::fill(counts_.begin(), counts_.end(), 0u);
    history_head_ = 0;
    history_size_ = 0;
    rng_.reseed(params_.seed);
}

void Sampler::accept(uint32_t token) {
    if (token >= n_vocab_)
        throw Error(ErrorCode::kInvalidArgument, "Sampler::accept: token " + std::to_string(token) +
                                                     " is outside the vocabulary of " + std::to_string(n_vocab_));
    if (history_.empty()) return;
    if (history_size_ == history_.size()) {
        --counts_[history_[history_head_]];  // evict the oldest token
    } else {
        ++history_size_;
    }
    history_[history_head_] = token;
    ++counts_[token];
    history_head_ = (history_head_ + 1) % history_.size();
}

bool Sampler::penaltiesActive() const noexcept {
    return history_size_ > 0 &&
           (params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f);
}

// llama.cpp's llama_sampler_penalties_apply: repeat first, then OpenAI's presence and frequency.
float Sampler::penalized(float logit, uint32_t count) const noexcept {
    logit = logit > 0.0f ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    return logit - static_cast<float>(count) * params_.frequency_penalty - params_.presence_penalty;
}

void Sampler::applyPenalties(std::span<float> logits) const {
    VKI_ASSERT(logits.size() == n_vocab_);
    if (!penaltiesActive()) return;
    for (uint32_t token : windowTokens()) logits[token] = penalized(logits[token], counts_[token]);
}

// The distinct tokens of the window, each once, in no particular order.
std::span<const uint32_t> Sampler::windowTokens() const {
    size_t n = 0;
    for (size_t i = 0; i < history_size_; ++i) {
        const uint32_t token = history_[i];
        if (visited_[token]) continue;
        visited_[token] = 1;
        distinct_[n++] = token;
    }
    for (size_t i = 0; i < n; ++i) visited_[distinct_[i]] = 0;
    return {distinct_.data(), n};
}

uint32_t Sampler::sample(std::span<const float> logits) {
    if (logits.size() != n_vocab_)
        throw Error(ErrorCode::kInvalidArgument, "Sampler::sample: got " + std::to_string(logits.size()) +
                                                     " logits for a vocabulary of " + std::to_string(n_vocab_));
    float* l = logits_.data();  // (n_vocab) penalized logits, by token id
    std::copy(logits.begin(), logits.end(), l);
    applyPenalties(logits_);

    // The argmax survives every filter, so greedy needs nothing else. Penalties keep a
    // NaN a NaN, so one pass checks both.
    uint32_t best = 0;
    float max = l[0];  // kept in a register: reloading l[best] costs 3x
    bool has_nan = false;
    for (uint32_t i = 0; i < n_vocab_; ++i) {
        has_nan |= std::isnan(l[i]);
        if (l[i] > max) {
            max = l[i];
            best = i;
        }
    }
    if (has_nan) throw Error(ErrorCode::kInvalidArgument, "Sampler::sample: logits contain NaN");
    if (max == -std::numeric_limits<float>::infinity())
        throw Error(ErrorCode::kInvalidArgument, "Sampler::sample: every logit is -inf (all tokens masked)");
    if (params_.greedy()) return best;

    size_t n = 0;
    if (params_.top_k > 0 && static_cast<uint32_t>(params_.top_k) < n_vocab_) {
        n = topPSorted(topK(), max);
    } else {
        n = topPAll(max);
    }
    n = minP(n, max);
    return draw(n, max);
}

// Keeps the top_k largest, sorted, with a bounded heap over the logits: O(n) compares
// and about k log(n/k) insertions for logits in random order.
size_t Sampler::topK() {
    const uint32_t k = static_cast<uint32_t>(params_.top_k);
    const float* l = logits_.data();
    Candidate* c = candidates_.data();
    for (uint32_t i = 0; i < k; ++i) c[i] = {l[i], i};
    std::make_heap(c, c + k, kBefore);  // c[0]: the last in rank of those kept so far
    for (uint32_t i = k; i < n_vocab_; ++i) {
        // Ids only grow, so on a tie the kept token ranks first: only a larger logit gets in.
        if (l[i] > c[0].logit) {
            std::pop_heap(c, c + k, kBefore);
            c[k - 1] = {l[i], i};
            std::push_heap(c, c + k, kBefore);
        }
    }
    std::sort_heap(c, c + k, kBefore);
    return k;
}

// Top-p keeps the smallest set of highest-ranked candidates whose probability reaches
// top_p (as llama.cpp: the token that crosses the threshold is kept).

// Top-p over candidates sorted by topK().
size_t Sampler::topPSorted(size_t n, float max) {
    if (params_.top_p >= 1.0f || std::isinf(max)) return n;
    const Candidate* c = candidates_.data();
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += std::exp(c[i].logit - max);
    const double target = static_cast<double>(params_.top_p) * total;
    double cumulative = 0;
    for (size_t i = 0; i < n; ++i) {
        cumulative += std::exp(c[i].logit - max);
        if (cumulative >= target) return i + 1;
    }
    return n;  // rounding kept everything
}

// Every token as a candidate, in id order.
size_t Sampler::allCandidates() {
    const float* l = logits_.data();
    for (uint32_t i = 0; i < n_vocab_; ++i) candidates_[i] = {l[i], i};
    return n_vocab_;
}

// Top-p over the whole vocabulary, without sorting it: a histogram of probability mass
// over logit buckets finds the bucket where the cumulative mass crosses top_p; the
// buckets above it are kept whole and only the crossing bucket is sorted (the idea of
// llama.cpp's bucket sort for top-p).
size_t Sampler::topPAll(float max) {
    if (params_.top_p >= 1.0f || n_vocab_ == 1 || std::isinf(max)) return allCandidates();
    Candidate* c = candidates_.data();
    // Bucket b holds logits in (max - (b + 1) / 16, max - b / 16]; the last bucket also
    // everything further below, whose weight is under e^-31.9.
    constexpr uint32_t kBuckets = 512;
    constexpr float kPerNat = 16.0f;
    const auto bucketOf = [max](float logit) {
        const float below = (max - logit) * kPerNat;  // +inf for a -inf logit
        return below < static_cast<float>(kBuckets - 1) ? static_cast<uint32_t>(static_cast<int32_t>(below))
                                                        : kBuckets - 1;
    };
    const float* l = logits_.data();  // (n_vocab) c[i] == {l[i], i} until compacted below
    std::array<double, kBuckets> mass{};
    for (uint32_t i = 0; i < n_vocab_; ++i) mass[bucketOf(l[i])] += std::exp(l[i] - max);
    double total = 0;
    for (double m : mass) total += m;
    const double target = static_cast<double>(params_.top_p) * total;
    uint32_t crossing = 0;
    double above = 0;  // mass of the buckets before `crossing`
    while (crossing < kBuckets && above + mass[crossing] < target) above += mass[crossing++];
    if (crossing == kBuckets) return allCandidates();  // rounding kept everything

    // Buckets above the crossing one go to the front in id order, the crossing one to the
    // back (kept <= tail throughout), then after them, sorted.
    // Branch-free: both slots are free (kept + (n_vocab - tail) == i < n_vocab), so each
    // token is written to both and only the counters decide which write sticks.
    size_t kept = 0, tail = n_vocab_;
    for (uint32_t i = 0; i < n_vocab_; ++i) {
        const uint32_t bucket = bucketOf(l[i]);
        c[tail - 1] = {l[i], i};
        c[kept] = {l[i], i};
        kept += bucket < crossing;
        tail -= bucket == crossing;
    }
    std::sort(c + tail, c + n_vocab_, kBefore);
    std::copy(c + tail, c + n_vocab_, c + kept);
    const size_t end = kept + (n_vocab_ - tail);
    double cumulative = above;
    for (size_t i = kept; i < end; ++i) {
        cumulative += std::exp(c[i].logit - max);
        if (cumulative >= target) return i + 1;
    }
    return end;
}

// Keeps the tokens with p >= min_p * p_max, i.e. logit >= max_logit + log(min_p), in order.
size_t Sampler::minP(size_t n, float max) {
    if (params_.min_p <= 0.0f || n <= 1) return n;
    Candidate* c = candidates_.data();
    const float threshold = max + std::log(params_.min_p);
    return static_cast<size_t>(std::remove_if(c, c + n, [&](const Candidate& x) { return x.logit < threshold; }) - c);
}

// Temperature and the draw in one: p_i ∝ exp((l_i - max) / T), in double so that a small
// T cannot overflow. One random number per call, whatever is left, so the RNG stream
// does not depend on the logits.
uint32_t Sampler::draw(size_t n, float max) {
    const Candidate* c = candidates_.data();
    const double temperature = params_.temperature;
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += weight(c[i].logit, max, temperature);
    const double u = rng_.nextDouble() * total;
    double cumulative = 0;
    size_t last_positive = 0;
    for (size_t i = 0; i < n; ++i) {
        const double w = weight(c[i].logit, max, temperature);
        if (w <= 0.0) continue;
        cumulative += w;
        last_positive = i;
        if (u < cumulative) return c[i].id;
    }
    return c[last_positive].id;  // u landed past the rounded total
}

// ---- StopMatcher -------------------------------------------------------------

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    for (const std::string& stop : stops_) {
        if (stop.empty()) throw Error(ErrorCode::kInvalidArgument, "StopMatcher: stop strings must not be empty");
    }
}

void StopMatcher::reset() {
    pending_.clear();
    out_.clear();
    matched_.reset();
}

// Longest suffix of pending_ that is a proper prefix of some stop string.
size_t StopMatcher::heldSuffix() const {
    const std::string_view text = pending_;
    size_t held = 0;
    for (const std::string& stop : stops_) {
        for (size_t length = std::min(stop.size() - 1, text.size()); length > held; --length) {
            if (text.substr(text.size() - length) == std::string_view(stop).substr(0, length)) {
                held = length;
                break;
            }
        }
    }
    return held;
}

StopMatcher::Result StopMatcher::push(std::string_view piece) {
    out_.clear();
    if (matched_) return {out_, true};
    pending_.append(piece);

    // The occurrence that ends first is the one a byte-by-byte stream would have seen first.
    size_t best_begin = std::string::npos, best_end = std::string::npos;
    for (size_t i = 0; i < stops_.size(); ++i) {
        const size_t begin = pending_.find(stops_[i]);
        if (begin == std::string::npos) continue;
        const size_t end = begin + stops_[i].size();
        if (end < best_end || (end == best_end && begin < best_begin)) {
            best_begin = begin;
            best_end = end;
            matched_ = i;
        }
    }
    if (matched_) {
        out_.assign(pending_, 0, best_begin);
        pending_.clear();
        return {out_, true};
    }

    const size_t held = std::max(heldSuffix(), incompleteUtf8Tail(pending_));
    const size_t emit = pending_.size() - held;
    out_.assign(pending_, 0, emit);
    pending_.erase(0, emit);
    return {out_, false};
}

std::string_view StopMatcher::flush() {
    out_.clear();
    if (!matched_) out_.swap(pending_);
    pending_.clear();
    return out_;
}

}  // namespace vki
