// The batch assembler: continuous batching of many requests on one Executor.
//
// Requests wait in a queue; each step takes one decode token from every running
// sequence plus chunks of waiting prompts up to a token budget (chunked prefill),
// lays them out as one ragged batch (token -> sequence slot, position, page table),
// runs it and samples every sequence that reached the end of its known tokens. A
// sequence starts on the KV pages of the longest cached prefix of its tokens and
// publishes the pages it fills. When the page pool runs dry the youngest running
// sequence is preempted: its pages go back (published ones stay cached), and it is
// queued again to recompute its prompt and the tokens it generated so far, which its
// cached pages make cheap. Sampling state stays with the sequence, so a preempted
// sequence continues exactly where it stopped.
//
// Not thread-safe: one thread submits, cancels and steps (the Engine wraps it).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "runtime/executor.hpp"
#include "runtime/generate.hpp"
#include "runtime/sampler.hpp"
#include "vkinfer/vkinfer.hpp"

namespace vki {

struct BatchOptions {
    // Tokens per step at most: decode tokens first, prompt chunks in what is left;
    // 0: the executor's largest step.
    uint32_t step_tokens = 0;
    // Reuse the cached KV pages of a shared prefix.
    bool prefix_cache = true;
};

struct BatchRequest {
    std::vector<uint32_t> prompt;
    GenerateOptions options;  // logits_top_k is not supported here
    // A pending request whose prompt starts this one's (several samples of one prompt,
    // branches of a conversation): this one waits until that one has computed its
    // prompt and starts on its KV pages (KvCache::fork), computing only the rest. No
    // effect when that request has ended or its prompt is not a prefix of this one.
    uint64_t fork_of = 0;
    // Where the request's timings (queue, time to first token, total) start.
    std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
};

// Called on the stepping thread: on_token with each generated token kept, on_text with
// text as it becomes final, on_done with the request's Completion, once.
struct BatchSink {
    std::function<void(uint32_t token)> on_token;
    std::function<void(std::string_view text)> on_text;
    std::function<void(const Completion&)> on_done;
};

struct BatchStats {
    uint32_t queued = 0;
    uint32_t running = 0;
    kv::PagePool::Stats pages;
    uint64_t prefix_hit_tokens = 0;  // prompt positions taken from cached pages
    uint64_t computed_tokens = 0;    // positions run through the model
    uint64_t generated_tokens = 0;
    uint64_t steps = 0;
    uint64_t preemptions = 0;
    double busy_seconds = 0;  // time inside step()
};

// Tokens a context shift drops from a sequence of `tokens` at the context's end: the
// first page (the attention sink) stays, then whole pages amounting to half of the
// rest (at least one) go.
uint32_t contextShiftDrop(uint32_t tokens, uint32_t page_tokens);

class BatchAssembler {
public:
    // The executor's KV slots bound the running sequences.
    BatchAssembler(Executor& executor, const model::Tokenizer& tokenizer, const BatchOptions& options = {});
    ~BatchAssembler();
    BatchAssembler(const BatchAssembler&) = delete;
    BatchAssembler& operator=(const BatchAssembler&) = delete;

    // Queues a request; its id. A request that can never run (empty prompt, one that
    // does not fit the context or the whole page pool, bad sampling parameters)
    // finishes at once with an "error" result.
    uint64_t submit(BatchRequest request, BatchSink sink);
    // Ends a queued or running request at the next step, as "cancelled"; false when no
    // such request is pending.
    bool cancel(uint64_t id);
    // Ends every queued and running request: as "cancelled", or with `error`.
    void cancelAll();
    void failAll(const Error& error);
    // Nothing queued or running.
    bool idle() const;
    // Runs one step of the model over the running sequences (nothing when idle).
    // Errors of a request end that request; an error of the device (lost, out of
    // memory) ends every pending request with it and is rethrown.
    void step();
    BatchStats stats() const;

private:
    struct Sequence;
    // The queued or running sequence `id`; null when there is none.
    Sequence* pending(uint64_t id) const;
    void admit();
    void preempt(Sequence& seq);
    // At the context's end: drops tokens after the sink and moves the rest down
    // (Executor::shiftKv), or restarts the slot on them.
    void shiftContext(Sequence& seq);
    void finish(Sequence& seq, const std::string& reason);
    void fail(Sequence& seq, ErrorCode code, const std::string& message);

    Executor& executor_;
    const model::Tokenizer& tokenizer_;
    BatchOptions options_;
    std::vector<uint32_t> eog_;
    uint64_t next_id_ = 1;
    std::deque<std::unique_ptr<Sequence>> queue_;     // by id: preempted ones go back to their place
    std::vector<std::unique_ptr<Sequence>> running_;  // by id, oldest first
    std::vector<uint32_t> free_slots_;
    BatchStats stats_;
};

}  // namespace vki
