// The batch assembler on lavapipe: sequences run together give the tokens each gives
// alone (staggered arrivals, chunked prefill, mixed decode and prompt steps); a cached
// prefix gives the cold tokens and skips its positions; a random workload on a small
// page pool never leaks pages, preempts and recomputes exactly, and ends every
// request; sliding-window sequences wrap their page rings on a pool smaller than
// their contexts; forks start on their parent's pages. "Alone" is the executor serving one request at a time without
// the prefix cache, which the executor tests hold against the CPU reference.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "graph/build.hpp"
#include "graph/reference.hpp"
#include "graph/reference_ops.hpp"
#include "model/gguf.hpp"
#include "model/vocab_io.hpp"
#include "runtime/batch.hpp"
#include "support/gpu.hpp"
#include "support/test_models.hpp"
#include "vkinfer/vkinfer.hpp"

namespace vki {
namespace {

class BatchTest : public test::GpuTest {
protected:
    void SetUp() override {
        test::GpuTest::SetUp();
        load(0);
    }

    // The test model, with a sliding window or without.
    void load(uint32_t window) {
        file_ = std::make_unique<model::GgufFile>(
            model::GgufFile::open(test::testModel(model::Arch::kLlama, "q8_0", 1, window).string()));
        tokenizer_ = std::make_unique<model::Tokenizer>(model::readVocab(*file_));
    }

    std::unique_ptr<Executor> executor(uint32_t slots, uint64_t kv_bytes = 0, uint32_t n_ctx = 256) {
        return std::make_unique<Executor>(
            test::device(), *file_,
            ExecutorOptions{
                .n_ctx = n_ctx, .slots = slots, .kv_bytes = kv_bytes, .kv_type = kv_type_, .buckets = buckets_});
    }

    static std::vector<uint32_t> randomPrompt(std::mt19937& rng, uint32_t n) {
        std::uniform_int_distribution<uint32_t> id(3, 31999);
        std::vector<uint32_t> p(n);
        for (auto& t : p) t = id(rng);
        return p;
    }

    static BatchRequest greedy(std::vector<uint32_t> prompt, uint32_t max_tokens) {
        BatchRequest r;
        r.prompt = std::move(prompt);
        r.options.max_tokens = max_tokens;
        r.options.sampling.temperature = 0;
        r.options.stop_at_eog = false;
        return r;
    }

    // Runs each request by itself, one after another, without the prefix cache.
    std::vector<Completion> alone(const std::vector<BatchRequest>& requests) {
        auto ex = executor(1);
        BatchAssembler batch(*ex, *tokenizer_, {.prefix_cache = false});
        std::vector<Completion> results;
        for (const BatchRequest& r : requests) {
            Completion out;
            batch.submit(r, {.on_done = [&](const Completion& res) { out = res; }});
            while (!batch.idle()) batch.step();
            EXPECT_EQ(out.preemptions, 0u);
            results.push_back(out);
        }
        return results;
    }

    // The test model's KV page shape.
    kv::KvShape pageShape() const {
        const model::ModelConfig c = test::testConfig(model::Arch::kLlama);
        return {c.n_layer, c.n_head_kv, c.n_embd / c.n_head, 16};
    }

    std::unique_ptr<model::GgufFile> file_;
    std::unique_ptr<model::Tokenizer> tokenizer_;
    std::vector<uint32_t> buckets_ = ExecutorOptions{}.buckets;
    quant::DType kv_type_ = quant::DType::kF16;
};

// Steps until idle; every step checks the pool's counts add up.
void drain(BatchAssembler& batch, const kv::KvCache& kv) {
    for (int guard = 0; !batch.idle(); ++guard) {
        ASSERT_LT(guard, 100000) << "the assembler does not finish";
        batch.step();
        const kv::PagePool::Stats s = kv.stats();
        ASSERT_EQ(s.used + s.cached + s.free, kv.pages());
    }
}

TEST_F(BatchTest, SequencesTogetherGiveTheTokensEachGivesAlone) {
    std::mt19937 rng(11);
    std::vector<BatchRequest> requests;
    for (uint32_t i = 0; i < 16; ++i) {
        requests.push_back(greedy(randomPrompt(rng, 2 + (i * 7) % 41), 2 + (i * 5) % 4));
    }
    const std::vector<Completion> expected = alone(requests);

    for (uint32_t n : {4u, 16u}) {
        SCOPED_TRACE("sequences together: " + std::to_string(n));
        auto ex = executor(n);
        // A small step budget splits the longer prompts into chunks beside decode tokens.
        BatchAssembler batch(*ex, *tokenizer_, {.step_tokens = 24});
        // Staggered arrivals: a new request every other step. With 16 slots the pool
        // holds every sequence's context, and a second pass finds the first one's full
        // prompt pages cached.
        for (int pass = 0; pass < (n == 16 ? 2 : 1); ++pass) {
            SCOPED_TRACE(pass == 0 ? "cold" : "prefixes cached");
            std::map<size_t, Completion> got;
            size_t next = 0;
            for (int step = 0; next < requests.size() || !batch.idle(); ++step) {
                ASSERT_LT(step, 10000);
                if (next < requests.size() && step % 2 == 0) {
                    const size_t i = next++;
                    batch.submit(requests[i], {.on_done = [&got, i](const Completion& r) { got[i] = r; }});
                }
                batch.step();
            }
            ASSERT_EQ(got.size(), requests.size());
            uint32_t cached = 0;
            for (size_t i = 0; i < requests.size(); ++i) {
                EXPECT_EQ(got[i].tokens, expected[i].tokens) << "request " << i;
                EXPECT_EQ(got[i].stop_reason, "length");
                cached += got[i].cached_tokens;
            }
            if (pass == 0) {
                EXPECT_EQ(cached, 0u);
            } else {
                EXPECT_GT(cached, 0u);
            }
        }
        const kv::PagePool::Stats s = ex->kvCache().stats();
        EXPECT_EQ(s.used, 0u);
    }
}

TEST_F(BatchTest, CachedPrefixGivesTheColdTokensAndComputesOnlyTheRest) {
    std::mt19937 rng(5);
    const std::vector<uint32_t> shared = randomPrompt(rng, 100);  // 6 full pages of 16, and 4 tokens
    std::vector<uint32_t> prompt = shared;
    const std::vector<uint32_t> suffix = randomPrompt(rng, 20);
    prompt.insert(prompt.end(), suffix.begin(), suffix.end());
    const Completion cold = alone({greedy(prompt, 8)})[0];
    EXPECT_EQ(cold.cached_tokens, 0u);
    EXPECT_EQ(cold.computed_tokens, 120u + 7u);

    auto ex = executor(2);
    BatchAssembler batch(*ex, *tokenizer_);
    Completion first, second;
    batch.submit(greedy(shared, 4), {.on_done = [&](const Completion& r) { first = r; }});
    drain(batch, ex->kvCache());
    EXPECT_EQ(first.cached_tokens, 0u);
    // The first request's 6 full pages (its prompt's) and 0 more: its 3 generated tokens end at 103.
    EXPECT_EQ(ex->kvCache().stats().cached, 6u);
    batch.submit(greedy(prompt, 8), {.on_done = [&](const Completion& r) { second = r; }});
    drain(batch, ex->kvCache());
    EXPECT_EQ(second.tokens, cold.tokens);
    EXPECT_EQ(second.cached_tokens, 96u);
    EXPECT_EQ(second.computed_tokens, 120u - 96u + 7u);
    EXPECT_EQ(batch.stats().prefix_hit_tokens, 96u);
    EXPECT_EQ(ex->kvCache().stats().used, 0u);
}

// Sliding window (20 positions) with steps of at most 32 tokens: each sequence's ring
// is 5 pages (80 positions), and 4 slots share a pool of 12 pages. Five requests whose
// sequences run to 36..124 positions (staggered, chunked prefill beside decode
// tokens) give the tokens each gives alone; then a request extending the 96-token
// prompt of another, run after it, attaches its cached prefix (6 pages, of which it
// lets go of 3 at once) and gives its cold tokens. The executor tests hold "alone"
// against the windowed CPU reference.
TEST_F(BatchTest, WindowedSequencesWrapTheirRingsAndGiveTheTokensEachGivesAlone) {
    load(20);
    buckets_ = {1, 2, 4, 8, 16, 32};
    std::mt19937 rng(21);
    std::vector<BatchRequest> requests;
    for (uint32_t len : {40u, 96u, 70u, 12u, 100u}) requests.push_back(greedy(randomPrompt(rng, len), 24));
    std::vector<uint32_t> extended = requests[1].prompt;
    extended.insert(extended.end(), {7, 8});
    requests.push_back(greedy(extended, 24));
    const std::vector<Completion> expected = alone(requests);

    auto ex = executor(4, 12 * kv::pageBytes(pageShape()));
    ASSERT_EQ(ex->kvCache().maxPages(), 5u);
    BatchAssembler batch(*ex, *tokenizer_, {.step_tokens = 24});
    std::map<size_t, Completion> got;
    auto submit = [&](size_t i) {
        batch.submit(requests[i], {.on_done = [&got, i](const Completion& r) { got[i] = r; }});
    };
    size_t next = 0;
    for (int step = 0; next < 5 || !batch.idle(); ++step) {
        ASSERT_LT(step, 10000);
        if (next < 5 && step % 3 == 0) submit(next++);
        batch.step();
        const kv::PagePool::Stats s = ex->kvCache().stats();
        ASSERT_EQ(s.used + s.cached + s.free, ex->kvCache().pages());
    }
    submit(1);
    drain(batch, ex->kvCache());
    submit(5);
    drain(batch, ex->kvCache());
    ASSERT_EQ(got.size(), requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(got[i].tokens, expected[i].tokens) << "request " << i;
        EXPECT_EQ(got[i].stop_reason, "length");
    }
    EXPECT_EQ(got[5].cached_tokens, 96u);
    EXPECT_EQ(got[5].computed_tokens, 98u - 96u + 23u);
    EXPECT_EQ(ex->kvCache().stats().used, 0u);
}

// Forks (BatchRequest::fork_of): two more samples of a 50-token prompt with other
// seeds and a branch adding 5 tokens wait until the first request has computed the
// prompt, then start on its pages: 3 full pages shared, a copy of the partly filled
// 4th each (7 pages in use, not 16), computing 1 (the branch: 5) prompt positions
// instead of 50, and each gives the tokens it gives alone. Through the Engine,
// Engine::fork does the same, and forking a request that has ended is an error.
TEST_F(BatchTest, ForksStartOnTheirParentsPagesAndGiveTheTokensTheyGiveAlone) {
    std::mt19937 rng(8);
    const std::vector<uint32_t> prompt = randomPrompt(rng, 50);
    auto sampled = [](std::vector<uint32_t> p, uint64_t seed) {
        BatchRequest r = greedy(std::move(p), 6);
        r.options.sampling.temperature = 0.9f;
        r.options.sampling.top_k = 8;
        r.options.sampling.seed = seed;
        return r;
    };
    std::vector<uint32_t> branch = prompt;
    branch.insert(branch.end(), {11, 12, 13, 14, 15});
    const std::vector<BatchRequest> requests = {sampled(prompt, 1), sampled(prompt, 2), sampled(prompt, 3),
                                                greedy(branch, 6)};
    const std::vector<Completion> expected = alone(requests);
    EXPECT_NE(expected[0].tokens, expected[1].tokens) << "other seeds should sample otherwise";

    auto ex = executor(4);
    BatchAssembler batch(*ex, *tokenizer_, {.step_tokens = 32});
    std::map<size_t, Completion> got;
    uint64_t parent = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
        BatchRequest r = requests[i];
        r.fork_of = parent;
        const uint64_t id = batch.submit(r, {.on_done = [&got, i](const Completion& c) { got[i] = c; }});
        if (i == 0) parent = id;
    }
    batch.step();  // the prompt's first 32 positions; the forks wait
    batch.step();  // the other 18
    EXPECT_EQ(batch.stats().running, 1u);
    batch.step();  // the forks start
    EXPECT_EQ(batch.stats().running, 4u);
    EXPECT_EQ(ex->kvCache().stats().used, 7u);
    drain(batch, ex->kvCache());
    ASSERT_EQ(got.size(), requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(got[i].tokens, expected[i].tokens) << "request " << i;
        EXPECT_EQ(got[i].cached_tokens, i == 0 ? 0u : i == 3 ? 50u : 49u) << "request " << i;
        EXPECT_EQ(got[i].computed_tokens, i == 0 ? 55u : i == 3 ? 10u : 6u) << "request " << i;
    }
    EXPECT_EQ(ex->kvCache().stats().used, 0u);

    Engine engine({.model = test::testModel(model::Arch::kLlama, "q8_0").string(), .context = 128, .parallel = 4});
    auto request = [](const BatchRequest& b) {
        GenerationRequest r;
        r.max_tokens = b.options.max_tokens;
        r.sampling = b.options.sampling;
        r.stop_at_eog = false;
        return r;
    };
    GenerationRequest first = request(requests[0]);
    first.tokens = prompt;
    const uint64_t id = engine.submit(first);
    const uint64_t second = engine.fork(id, request(requests[1]));
    GenerationRequest more = request(requests[3]);
    more.tokens = {11, 12, 13, 14, 15};
    const uint64_t third = engine.fork(second, more);  // a fork of a fork: the same prompt
    EXPECT_EQ(engine.wait(id).tokens, expected[0].tokens);
    const Completion a = engine.wait(second), b = engine.wait(third);
    EXPECT_EQ(a.tokens, expected[1].tokens);
    EXPECT_EQ(a.prompt_tokens, 50u);
    EXPECT_EQ(b.tokens, expected[3].tokens);
    EXPECT_EQ(b.prompt_tokens, 55u);
    EXPECT_GT(a.cached_tokens + b.cached_tokens, 0u);
    EXPECT_THROW(engine.fork(id, request(requests[1])), Error);
}

TEST_F(BatchTest, ErrorsAreClearAndEndOnlyTheirRequest) {
    auto ex = executor(2, /*kv_bytes=*/4 * kv::pageBytes(pageShape()), 128);
    BatchAssembler batch(*ex, *tokenizer_);
    std::vector<Completion> done;
    auto sink = [&] { return BatchSink{.on_done = [&](const Completion& r) { done.push_back(r); }}; };
    std::mt19937 rng(3);
    batch.submit(greedy({}, 4), sink());
    batch.submit(greedy(randomPrompt(rng, 128), 4), sink());  // the context is 128
    batch.submit(greedy(randomPrompt(rng, 70), 4), sink());   // 5 pages, the pool holds 4
    batch.submit(greedy({1, 2, 99999}, 4), sink());
    BatchRequest bad = greedy({1, 2, 3}, 4);
    bad.options.sampling.top_p = 2;
    batch.submit(bad, sink());
    ASSERT_EQ(done.size(), 5u);
    const char* expected[] = {"empty", "context of 128", "raise the KV budget", "outside the vocabulary", "top_p"};
    for (size_t i = 0; i < done.size(); ++i) {
        EXPECT_EQ(done[i].stop_reason, "error");
        EXPECT_NE(done[i].error.find(expected[i]), std::string::npos) << done[i].error;
    }
    // A good request still runs; one that outgrows the pool while generating ends with
    // its tokens so far and an out-of-memory error.
    done.clear();
    batch.submit(greedy(randomPrompt(rng, 40), 30), sink());
    drain(batch, ex->kvCache());
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].stop_reason, "error");
    EXPECT_EQ(done[0].error_code, ErrorCode::kOutOfMemory);
    EXPECT_EQ(done[0].tokens.size(), 64u - 40u + 1u);
    EXPECT_EQ(ex->kvCache().stats().used, 0u);
}

TEST_F(BatchTest, RandomRequestsOnASmallPool) {
    // 10 pages of 16 tokens for 6 sequences of up to 128 positions: the pool runs dry
    // and the youngest sequences are preempted and recomputed.
    const uint32_t pages = 10;
    auto ex = executor(6, pages * kv::pageBytes(pageShape()), 128);
    const kv::KvCache& kv = ex->kvCache();
    ASSERT_EQ(kv.pages(), pages);
    BatchAssembler batch(*ex, *tokenizer_, {.step_tokens = 64});
    std::mt19937 rng(2024);
    // Prompts share prefixes now and then: the pool keeps cached pages between requests.
    std::vector<std::vector<uint32_t>> stems;
    for (int i = 0; i < 4; ++i) stems.push_back(randomPrompt(rng, 40));
    std::vector<BatchRequest> requests;
    std::vector<bool> cancel_at_random;
    for (int i = 0; i < 200; ++i) {
        std::vector<uint32_t> prompt;
        if (rng() % 3 == 0) {
            const auto& stem = stems[rng() % stems.size()];
            prompt.assign(stem.begin(), stem.begin() + 16 + rng() % 17);
        }
        const std::vector<uint32_t> more = randomPrompt(rng, 1 + rng() % 24);
        prompt.insert(prompt.end(), more.begin(), more.end());
        BatchRequest r = greedy(prompt, 1 + rng() % 8);
        if (rng() % 4 == 0) {
            r.options.sampling = SamplingParams{.temperature = 0.9f, .top_k = 8, .seed = rng()};
        }
        requests.push_back(std::move(r));
        cancel_at_random.push_back(rng() % 10 == 0);
    }
    std::vector<Completion> got(requests.size());
    std::vector<int> done_count(requests.size(), 0);
    std::vector<uint64_t> ids;
    size_t next = 0;
    uint64_t max_used = 0;
    for (int step = 0; next < requests.size() || !batch.idle(); ++step) {
        ASSERT_LT(step, 100000);
        // Up to 3 arrivals per step.
        for (uint32_t k = rng() % 4; k > 0 && next < requests.size(); --k) {
            const size_t i = next++;
            ids.push_back(batch.submit(requests[i], {.on_done = [&, i](const Completion& r) {
                                           got[i] = r;
                                           ++done_count[i];
                                       }}));
        }
        // A tenth of the requests are cancelled at a random step after they arrive
        // (queued or running; some have finished by then).
        for (size_t i = 0; i < ids.size(); ++i) {
            if (cancel_at_random[i] && rng() % 3 == 0) {
                batch.cancel(ids[i]);
                cancel_at_random[i] = false;
            }
        }
        batch.step();
        const kv::PagePool::Stats s = kv.stats();
        ASSERT_EQ(s.used + s.cached + s.free, pages);
        max_used = std::max<uint64_t>(max_used, s.used);
    }
    EXPECT_EQ(max_used, pages) << "the workload should fill the pool";
    EXPECT_GT(batch.stats().preemptions, 0u);
    EXPECT_GT(batch.stats().prefix_hit_tokens, 0u);
    EXPECT_EQ(kv.stats().used, 0u) << "pages leaked";

    // Every request ended once; the preempted ones that ran to their end give the
    // tokens they give alone.
    std::vector<size_t> finished;  // preempted and not cancelled
    uint32_t preempted = 0, cancelled = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
        ASSERT_EQ(done_count[i], 1) << "request " << i;
        if (got[i].stop_reason == "cancelled") {
            ++cancelled;
            continue;
        }
        EXPECT_EQ(got[i].stop_reason, "length") << "request " << i << ": " << got[i].error;
        if (got[i].preemptions > 0) {
            ++preempted;
            // Alone runs cost a step per token on lavapipe: a dozen of them.
            if (finished.size() < 12) finished.push_back(i);
        }
    }
    EXPECT_GT(preempted, 0u);
    EXPECT_GT(cancelled, 0u);
    std::vector<BatchRequest> again;
    for (size_t i : finished) again.push_back(requests[i]);
    const std::vector<Completion> expected = alone(again);
    for (size_t k = 0; k < finished.size(); ++k) {
        EXPECT_EQ(got[finished[k]].tokens, expected[k].tokens)
            << "request " << finished[k] << " (preempted " << got[finished[k]].preemptions << " times)";
    }
    std::printf("200 requests: %u cancelled, %u preempted (%llu preemptions), %llu prefix-hit tokens, %llu steps\n",
                cancelled, preempted, (unsigned long long)batch.stats().preemptions,
                (unsigned long long)batch.stats().prefix_hit_tokens, (unsigned long long)batch.stats().steps);
}

// Context shift: a sequence generating past the context keeps its first page (the
// attention sink), drops the oldest half of the rest and moves what remains down, its
// cached K re-rotated (nothing is computed twice; the moved K/V keep what their tokens
// saw of the dropped ones, as in StreamingLLM and llama.cpp), for an f16 and a q8_0
// cache. The CPU reference does the same to its cache (ReferenceExecutor::shiftCache);
// its greedy choice matches at every generated token (teacher-forced on the device's
// tokens; a near-tie within the logits tolerance may differ).
TEST_F(BatchTest, ContextShiftMatchesTheCpuReferenceOfTheShiftedSequence) {
    const uint32_t n_ctx = 64, page = 16, generate = 90;
    for (const quant::DType kv_type : {quant::DType::kF16, quant::DType::kQ8_0}) {
        SCOPED_TRACE(quant::traits(kv_type).name);
        kv_type_ = kv_type;
        std::mt19937 rng(9);
        BatchRequest request = greedy(randomPrompt(rng, 30), generate);
        request.options.context_shift = true;
        auto ex = executor(2, 0, n_ctx);
        BatchAssembler batch(*ex, *tokenizer_);
        Completion got, other;
        batch.submit(request, {.on_done = [&](const Completion& c) { got = c; }});
        // Another sequence beside it stops at the context's end.
        batch.submit(greedy(randomPrompt(rng, 50), 30), {.on_done = [&](const Completion& c) { other = c; }});
        drain(batch, ex->kvCache());
        ASSERT_EQ(got.stop_reason, "length") << got.error;
        ASSERT_EQ(got.tokens.size(), generate);
        EXPECT_GE(got.context_shifts, 2u);
        EXPECT_EQ(got.computed_tokens, 30u + generate - 1) << "a shift computed positions again";
        EXPECT_EQ(other.stop_reason, "context");
        EXPECT_EQ(other.tokens.size(), n_ctx - 50u);
        EXPECT_EQ(ex->kvCache().stats().used, 0u);

        const graph::Graph plain = graph::buildGraph(*file_);
        graph::ReferenceExecutor ref(plain, *file_, n_ctx, kv_type);
        std::vector<uint32_t> seq = request.prompt;
        std::vector<float> logits;
        auto runFrom = [&](uint32_t first) {
            std::vector<uint32_t> pos(seq.size() - first);
            std::iota(pos.begin(), pos.end(), first);
            logits = ref.forward(std::span(seq).subspan(first), pos);
            logits.erase(logits.begin(), logits.end() - ex->vocabSize());
        };
        runFrom(0);
        uint32_t shifts = 0, near_ties = 0;
        for (uint32_t i = 0; i < generate; ++i) {
            const uint32_t token = got.tokens[i];
            const uint32_t best = graph::ref::argMax(logits);
            if (token != best) {
                const float max_abs = *std::max_element(logits.begin(), logits.end(),
                                                        [](float a, float b) { return std::abs(a) < std::abs(b); });
                ASSERT_LT(logits[best] - logits[token], 2e-3 * std::max(1.0f, std::abs(max_abs)))
                    << "generated token " << i << " differs from the reference beyond a near-tie";
                ++near_ties;
            }
            seq.push_back(token);
            if (i + 1 == generate) break;
            if (seq.size() >= n_ctx) {
                const uint32_t drop = contextShiftDrop(static_cast<uint32_t>(seq.size()), page);
                seq.erase(seq.begin() + page, seq.begin() + page + drop);
                ref.shiftCache(page, drop, static_cast<uint32_t>(seq.size() + drop - 1));
                ++shifts;
            }
            runFrom(static_cast<uint32_t>(seq.size() - 1));
        }
        EXPECT_EQ(shifts, got.context_shifts);
        EXPECT_LE(near_ties, 1u);
    }
}

// The Engine from several threads at once: submissions, callbacks, polling, waiting,
// cancellation and statistics; greedy results equal the ones alone.
TEST_F(BatchTest, EngineServesRequestsFromManyThreads) {
    std::mt19937 rng(77);
    std::vector<BatchRequest> requests;
    for (uint32_t i = 0; i < 4; ++i) requests.push_back(greedy(randomPrompt(rng, 5 + 9 * i), 3 + i));
    const std::vector<Completion> expected = alone(requests);

    Engine engine({.model = test::testModel(model::Arch::kLlama, "q8_0").string(), .context = 128, .parallel = 4});
    EXPECT_EQ(engine.contextLength(), 128u);
    auto request = [&](size_t i) {
        GenerationRequest r;
        r.tokens = requests[i].prompt;
        r.max_tokens = requests[i].options.max_tokens;
        r.sampling.temperature = 0;
        r.stop_at_eog = false;
        return r;
    };
    // A long request to cancel while it runs.
    GenerationRequest long_one = request(0);
    long_one.max_tokens = 100;
    const uint64_t cancelled = engine.submit(long_one);

    // Three threads submit every request once each, two of them with callbacks.
    struct Seen {
        std::vector<uint32_t> tokens;
        std::string text;
        Completion done;
        int done_calls = 0;
    };
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::vector<Seen>> seen(3, std::vector<Seen>(requests.size()));
    std::vector<std::vector<Completion>> waited(3, std::vector<Completion>(requests.size()));
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            std::vector<uint64_t> ids;
            for (size_t i = 0; i < requests.size(); ++i) {
                GenerationRequest r = request(i);
                if (t > 0) {
                    Seen& s = seen[t][i];
                    r.on_token = [&s](uint32_t token) { s.tokens.push_back(token); };
                    r.on_text = [&s](std::string_view text) { s.text += text; };
                    r.on_done = [&, &s = s](const Completion& c) {
                        std::lock_guard lock(mu);
                        s.done = c;
                        ++s.done_calls;
                        cv.notify_all();
                    };
                }
                ids.push_back(engine.submit(std::move(r)));
            }
            if (t == 0) {
                for (size_t i = 0; i < ids.size(); ++i) waited[t][i] = engine.wait(ids[i]);
            }
        });
    }
    EXPECT_FALSE(engine.poll(cancelled).finished);
    EXPECT_TRUE(engine.cancel(cancelled));
    for (auto& th : threads) th.join();
    {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] {
            for (int t = 1; t < 3; ++t) {
                for (const Seen& s : seen[t])
                    if (s.done_calls == 0) return false;
            }
            return true;
        });
    }
    const Completion c = engine.wait(cancelled);
    EXPECT_EQ(c.stop_reason, "cancelled");
    EXPECT_LT(c.tokens.size(), 100u);
    EXPECT_FALSE(engine.cancel(cancelled));
    EXPECT_THROW(engine.poll(cancelled), Error);

    for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(waited[0][i].tokens, expected[i].tokens) << "request " << i;
        EXPECT_EQ(waited[0][i].text, expected[i].text);
        for (int t = 1; t < 3; ++t) {
            const Seen& s = seen[t][i];
            EXPECT_EQ(s.done_calls, 1);
            EXPECT_EQ(s.done.tokens, expected[i].tokens) << "thread " << t << " request " << i;
            EXPECT_EQ(s.tokens, s.done.tokens);
            EXPECT_EQ(s.text, s.done.text);
        }
    }
    const EngineStats st = engine.stats();
    EXPECT_EQ(st.queued, 0u);
    EXPECT_EQ(st.running, 0u);
    EXPECT_EQ(st.pages_used, 0u);
    EXPECT_GT(st.pages_cached + st.pages_free, 0u);
    EXPECT_GT(st.prefix_hit_tokens, 0u);  // the same prompts three times over
    EXPECT_GE(st.generated_tokens, 3u * (3 + 4 + 5 + 6));
    EXPECT_GT(st.tokens_per_second, 0.0);
}

}  // namespace
}  // namespace vki
