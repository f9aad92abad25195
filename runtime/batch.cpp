#include "runtime/batch.hpp"

#include <algorithm>
#include <chrono>

#include "common/error.hpp"

namespace vki {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

constexpr uint32_t kNoSlot = UINT32_MAX;

}  // namespace

struct BatchAssembler::Sequence {
    Sequence(uint64_t id_, BatchRequest&& request, BatchSink&& sink_, const model::Tokenizer& tokenizer,
             std::span<const uint32_t> eog, uint32_t n_vocab)
        : id(id_),
          tokens(std::move(request.prompt)),
          submitted(request.submitted),
          fork_of(request.fork_of),
          options(std::move(request.options)),
          sampler(options.sampling, n_vocab),
          out(tokenizer, options, eog),
          sink(std::move(sink_)) {
        const SamplingParams& sp = options.sampling;
        device_greedy =
            sp.greedy() && (sp.penalty_last_n == 0 ||
                            (sp.repeat_penalty == 1.0f && sp.presence_penalty == 0.0f && sp.frequency_penalty == 0.0f));
        for (uint32_t t : tokens) sampler.accept(t);
        result.prompt_tokens = static_cast<uint32_t>(tokens.size());
    }

    uint64_t id;
    // The prompt, then the generated tokens; the last one's K/V is not computed yet.
    std::vector<uint32_t> tokens;
    Clock::time_point submitted;
    uint64_t fork_of;      // a sequence to start from (BatchRequest::fork_of), until admitted
    uint32_t fork_at = 0;  // the positions shared with it: its prompt
    GenerateOptions options;
    Sampler sampler;
    TokenOutput out;
    BatchSink sink;
    bool device_greedy = true;
    uint32_t slot = kNoSlot;
    uint32_t computed = 0;  // positions whose K/V the slot's pages hold
    uint32_t take = 0;      // positions this step computes
    bool admitted = false;
    Completion result;
};

BatchAssembler::BatchAssembler(Executor& executor, const model::Tokenizer& tokenizer, const BatchOptions& options)
    : executor_(executor), tokenizer_(tokenizer), options_(options), eog_(endOfGenerationTokens(tokenizer)) {
    if (options_.step_tokens == 0 || options_.step_tokens > executor.maxStepTokens())
        options_.step_tokens = executor.maxStepTokens();
    for (uint32_t s = executor.kvCache().slots(); s-- > 0;) free_slots_.push_back(s);
}

BatchAssembler::~BatchAssembler() = default;

uint64_t BatchAssembler::submit(BatchRequest request, BatchSink sink) {
    const uint64_t id = next_id_++;
    const uint32_t prompt_tokens = static_cast<uint32_t>(request.prompt.size());
    const kv::KvCache& kv = executor_.kvCache();
    const uint32_t n_ctx = executor_.contextLength();
    std::string problem;
    ErrorCode code = ErrorCode::kInvalidArgument;
    if (request.prompt.empty()) {
        problem = "the prompt is empty";
    } else if (prompt_tokens >= n_ctx) {
        problem = "the prompt has " + std::to_string(prompt_tokens) + " tokens, which does not fit the context of " +
                  std::to_string(n_ctx) + " tokens";
    } else if (request.options.logits_top_k > 0) {
        problem = "batched requests do not record per-position logits";
    } else if (const uint32_t pages = kv.pagesFor(prompt_tokens + 1); pages > kv.pages()) {
        code = ErrorCode::kOutOfMemory;
        problem = "the prompt needs " + std::to_string(pages) + " KV pages and the whole pool holds " +
                  std::to_string(kv.pages()) + ": raise the KV budget";
    } else {
        for (uint32_t t : request.prompt) {
            if (t >= executor_.vocabSize()) {
                problem = "token id " + std::to_string(t) + " is outside the vocabulary of " +
                          std::to_string(executor_.vocabSize());
                break;
            }
        }
    }
    std::unique_ptr<Sequence> seq;
    try {
        if (problem.empty()) {
            request.options.sampling.validate();
            seq = std::make_unique<Sequence>(id, std::move(request), std::move(sink), tokenizer_, eog_,
                                             executor_.vocabSize());
        }
    } catch (const Error& e) {
        problem = e.what();
        code = e.code();
    }
    if (!problem.empty()) {
        Completion r;
        r.id = id;
        r.finished = true;
        r.prompt_tokens = prompt_tokens;
        r.stop_reason = "error";
        r.error = problem;
        r.error_code = code;
        if (sink.on_done) sink.on_done(r);
        return id;
    }
    if (seq->fork_of) {
        // Shared positions: the other's prompt, when it starts this one's.
        const Sequence* from = pending(seq->fork_of);
        const uint32_t shared = from && from->result.context_shifts == 0 ? from->result.prompt_tokens : 0;
        if (shared > 0 && shared <= seq->tokens.size() &&
            std::equal(from->tokens.begin(), from->tokens.begin() + shared, seq->tokens.begin())) {
            seq->fork_at = shared;
        } else {
            seq->fork_of = 0;
        }
    }
    queue_.push_back(std::move(seq));
    return id;
}

BatchAssembler::Sequence* BatchAssembler::pending(uint64_t id) const {
    auto in = [id](const auto& list) -> Sequence* {
        for (const auto& seq : list) {
            if (seq->id == id) return seq.get();
        }
        return nullptr;
    };
    Sequence* seq = in(running_);
    return seq ? seq : in(queue_);
}

bool BatchAssembler::cancel(uint64_t id) {
    Sequence* seq = pending(id);
    if (seq) finish(*seq, "cancelled");
    return seq != nullptr;
}

void BatchAssembler::cancelAll() {
    while (!running_.empty()) finish(*running_.front(), "cancelled");
    while (!queue_.empty()) finish(*queue_.front(), "cancelled");
}

void BatchAssembler::failAll(const Error& error) {
    while (!running_.empty()) fail(*running_.front(), error.code(), error.what());
    while (!queue_.empty()) fail(*queue_.front(), error.code(), error.what());
}

bool BatchAssembler::idle() const {
    return queue_.empty() && running_.empty();
}

BatchStats BatchAssembler::stats() const {
    BatchStats s = stats_;
    s.queued = static_cast<uint32_t>(queue_.size());
    s.running = static_cast<uint32_t>(running_.size());
    s.pages = executor_.kvCache().stats();
    return s;
}

void BatchAssembler::admit() {
    kv::KvCache& kv = executor_.kvCache();
    // In order; a fork waiting for the sequence it starts from keeps its place while
    // later requests go ahead.
    for (size_t i = 0; i < queue_.size() && !free_slots_.empty();) {
        Sequence& seq = *queue_[i];
        const uint32_t slot = free_slots_.back();
        const auto known = std::span<const uint32_t>(seq.tokens);
        // The last known token is computed in any case: its output is the next token.
        uint32_t hit = 0;
        if (seq.fork_of) {
            const Sequence* from = pending(seq.fork_of);
            // After a context shift its positions no longer hold the shared prompt.
            if (from && from->result.context_shifts != 0) from = nullptr;
            const uint32_t share = std::min(seq.fork_at, static_cast<uint32_t>(known.size()) - 1);
            if (from && (from->slot == kNoSlot || from->computed < share)) {
                ++i;
                continue;
            }
            if (from) hit = kv.fork(from->slot, slot, share);
        }
        if (hit == 0 && options_.prefix_cache) hit = kv.attachPrefix(slot, known.first(known.size() - 1));
        // Admitted only with room for all its known tokens and the next one, unless
        // nothing runs: then the pool is all its own.
        const uint32_t end = static_cast<uint32_t>(known.size()) + 1;
        if (kv.pagesNeeded(slot, end) > kv.availablePages()) {
            kv.release(slot);
            if (!running_.empty()) return;
            fail(seq, ErrorCode::kOutOfMemory,
                 "the sequence needs " + std::to_string(kv.pagesFor(end)) + " KV pages and the whole pool holds " +
                     std::to_string(kv.pages()) + ": raise the KV budget");
            continue;
        }
        free_slots_.pop_back();
        seq.slot = slot;
        seq.computed = hit;
        seq.fork_of = 0;
        stats_.prefix_hit_tokens += hit;
        if (!seq.admitted) {
            seq.admitted = true;
            seq.result.cached_tokens = hit;
            seq.result.queue_seconds = seconds(Clock::now() - seq.submitted);
        }
        auto it = std::upper_bound(running_.begin(), running_.end(), seq.id,
                                   [](uint64_t id, const auto& s) { return id < s->id; });
        running_.insert(it, std::move(queue_[i]));
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    }
}

void BatchAssembler::preempt(Sequence& seq) {
    executor_.kvCache().release(seq.slot);
    free_slots_.push_back(seq.slot);
    seq.slot = kNoSlot;
    seq.computed = 0;
    seq.take = 0;
    ++seq.result.preemptions;
    ++stats_.preemptions;
    const auto at = std::find_if(running_.begin(), running_.end(), [&](const auto& s) { return s.get() == &seq; });
    VKI_ASSERT(at != running_.end());
    auto it =
        std::upper_bound(queue_.begin(), queue_.end(), seq.id, [](uint64_t id, const auto& s) { return id < s->id; });
    queue_.insert(it, std::move(*at));
    running_.erase(at);
}

uint32_t contextShiftDrop(uint32_t tokens, uint32_t page_tokens) {
    VKI_ASSERT(tokens > 2 * page_tokens);
    return std::max(page_tokens, (tokens - page_tokens) / 2 / page_tokens * page_tokens);
}

void BatchAssembler::shiftContext(Sequence& seq) {
    kv::KvCache& kv = executor_.kvCache();
    const uint32_t sink = kv.shape().page_tokens;
    const uint32_t drop = contextShiftDrop(static_cast<uint32_t>(seq.tokens.size()), sink);
    seq.tokens.erase(seq.tokens.begin() + sink, seq.tokens.begin() + sink + drop);
    ++seq.result.context_shifts;
    // The cached positions after the dropped ones move down, their K re-rotated.
    if (seq.computed >= sink + drop && executor_.shiftKv(seq.slot, sink, drop)) {
        seq.computed -= drop;
        return;
    }
    // Where the cache cannot do that, the slot's pages go back and what remains is
    // computed again (the sink's page comes straight back from the prefix cache).
    kv.release(seq.slot);
    const auto known = std::span<const uint32_t>(seq.tokens);
    seq.computed = options_.prefix_cache ? kv.attachPrefix(seq.slot, known.first(known.size() - 1)) : 0;
}

void BatchAssembler::fail(Sequence& seq, ErrorCode code, const std::string& message) {
    seq.result.error = message;
    seq.result.error_code = code;
    finish(seq, "error");
}

void BatchAssembler::finish(Sequence& seq, const std::string& reason) {
    if (!seq.out.done()) seq.out.finish(reason, seq.sink.on_text);
    if (seq.slot != kNoSlot) {
        executor_.kvCache().release(seq.slot);
        free_slots_.push_back(seq.slot);
        seq.slot = kNoSlot;
    }
    Completion& r = seq.result;
    r.id = seq.id;
    r.finished = true;
    r.tokens = seq.out.tokens();
    r.text = seq.out.text();
    r.stop_reason = seq.out.reason();
    r.total_seconds = seconds(Clock::now() - seq.submitted);
    // Out of the queues first: on_done may submit.
    std::unique_ptr<Sequence> owned;
    auto take = [&](auto& list) {
        const auto at = std::find_if(list.begin(), list.end(), [&](const auto& s) { return s.get() == &seq; });
        if (at == list.end()) return;
        owned = std::move(*at);
        list.erase(at);
    };
    take(running_);
    if (!owned) take(queue_);
    VKI_ASSERT(owned);
    if (owned->sink.on_done) owned->sink.on_done(owned->result);
}

void BatchAssembler::step() {
    const auto start = Clock::now();
    admit();
    if (running_.empty()) return;
    kv::KvCache& kv = executor_.kvCache();

    // Decode tokens first, one per sequence; prompt chunks, oldest first, in the rest.
    uint32_t budget = options_.step_tokens;
    for (auto& seq : running_) {
        seq->take = 0;
        if (seq->tokens.size() - seq->computed == 1 && budget > 0) {
            seq->take = 1;
            --budget;
        }
    }
    for (auto& seq : running_) {
        const uint32_t left = static_cast<uint32_t>(seq->tokens.size()) - seq->computed;
        if (left > 1) {
            seq->take = std::min(left, budget);
            budget -= seq->take;
        }
    }
    // Pages, oldest first: when the pool runs dry the youngest sequences give theirs back.
    for (size_t i = 0; i < running_.size(); ++i) {
        Sequence& seq = *running_[i];
        if (seq.take == 0) continue;
        const uint32_t end = seq.computed + seq.take;
        while (kv.pagesNeeded(seq.slot, end) > kv.availablePages()) {
            Sequence& victim = *running_.back();
            if (&victim != &seq) {
                preempt(victim);
                continue;
            }
            if (i == 0) {
                fail(seq, ErrorCode::kOutOfMemory,
                     "the sequence needs " + std::to_string(kv.pagesFor(end)) + " KV pages and the whole pool holds " +
                         std::to_string(kv.pages()) + ": raise the KV budget");
            } else {
                preempt(seq);
            }
            break;
        }
        if (i < running_.size() && running_[i].get() == &seq) kv.reserve(seq.slot, end);
    }

    // The batch: tokens without outputs first, then each sequence's last known token.
    std::vector<uint32_t> tokens, positions, slots;
    std::vector<Sequence*> outputs;
    bool logits = false;
    auto put = [&](const Sequence& seq, uint32_t p) {
        tokens.push_back(seq.tokens[p]);
        positions.push_back(p);
        slots.push_back(seq.slot);
    };
    for (auto& seq : running_) {
        if (seq->take == 0) continue;
        const uint32_t end = seq->computed + seq->take;
        const bool output = end == seq->tokens.size();
        for (uint32_t p = seq->computed; p < end - (output ? 1 : 0); ++p) put(*seq, p);
        if (output) {
            outputs.push_back(seq.get());
            logits = logits || !seq->device_greedy;
        }
    }
    for (Sequence* seq : outputs) put(*seq, static_cast<uint32_t>(seq->tokens.size() - 1));
    if (tokens.empty()) return;

    std::vector<uint32_t> ids;
    try {
        const auto out =
            executor_.step(tokens, positions, slots, {.tail = static_cast<uint32_t>(outputs.size()), .logits = logits});
        ids.assign(out.begin(), out.end());
    } catch (const Error& e) {
        // Every pending request ends with the device's error.
        failAll(e);
        throw;
    }
    ++stats_.steps;

    for (auto& seq : running_) {
        if (seq->take == 0) continue;
        seq->computed += seq->take;
        seq->result.computed_tokens += seq->take;
        stats_.computed_tokens += seq->take;
        if (options_.prefix_cache) kv.publish(seq->slot, std::span(seq->tokens).first(seq->computed));
    }
    // Booked before the outputs: their on_done callbacks may read the statistics.
    stats_.busy_seconds += seconds(Clock::now() - start);
    const uint32_t n = static_cast<uint32_t>(tokens.size());
    const uint32_t first = n - static_cast<uint32_t>(outputs.size());
    const uint32_t n_ctx = executor_.contextLength();
    for (size_t i = 0; i < outputs.size(); ++i) {
        Sequence& seq = *outputs[i];
        uint32_t next = 0;
        try {
            next = seq.device_greedy ? ids[i] : seq.sampler.sample(executor_.logits(first + uint32_t(i)));
        } catch (const Error& e) {
            fail(seq, e.code(), e.what());
            continue;
        }
        if (seq.out.tokens().empty()) seq.result.ttft_seconds = seconds(Clock::now() - seq.submitted);
        const size_t kept = seq.out.tokens().size();
        const bool more = seq.out.push(next, seq.sink.on_text);
        if (seq.out.tokens().size() > kept) {
            ++stats_.generated_tokens;
            if (seq.sink.on_token) seq.sink.on_token(next);
        }
        if (!more) {
            finish(seq, seq.out.reason());
            continue;
        }
        seq.sampler.accept(next);
        seq.tokens.push_back(next);
        if (seq.tokens.size() < n_ctx) continue;
        // A shift needs a page after the sink to drop and one to keep.
        if (seq.options.context_shift && seq.tokens.size() > 2 * kv.shape().page_tokens)
            shiftContext(seq);
        else
            finish(seq, "context");
    }
}

}  // namespace vki
