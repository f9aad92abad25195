// End to end: the Vulkan executor against the CPU reference executor on random-weight
// models of both architectures in F16, Q8_0, Q4_0 and Q4_K_M, with an f16 KV cache,
// and two of them with a q8_0 KV cache (the reference rounding its cache the same
// way). The reference runs the plain (unfused) graph, so fusion, kernels, slabs, the
// paged cache and the recorded plans are all under test. Logits are compared at
// every position; greedy tokens are compared for 32 generated tokens, each step fed
// the Vulkan path's own choice. A sliding-window model runs past its window,
// wrapping its page-table ring.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "graph/build.hpp"
#include "graph/reference.hpp"
#include "graph/reference_ops.hpp"
#include "model/vocab_io.hpp"
#include "runtime/executor.hpp"
#include "runtime/generate.hpp"
#include "runtime/ops/matmul_int8.hpp"
#include "support/gpu.hpp"
#include "support/test_models.hpp"

namespace vki {
namespace {

struct Case {
    model::Arch arch;
    const char* recipe;
    quant::DType kv = quant::DType::kF16;
};

// Every token's id and logits row.
constexpr StepOutputs kEveryLogit{.tail = StepOutputs::kAll, .logits = true};

class ExecutorVsReference : public test::GpuTest, public ::testing::WithParamInterface<Case> {};
class ExecutorSlabs : public test::GpuTest {};
class ExecutorPromptSteps : public test::GpuTest {};
class ExecutorWindow : public test::GpuTest {};

struct Gap {
    double max_diff = 0;
    double max_abs = 0;
};
Gap compare(std::span<const float> gpu, std::span<const float> ref) {
    Gap g;
    for (size_t i = 0; i < ref.size(); ++i) {
        g.max_abs = std::max(g.max_abs, double(std::abs(ref[i])));
        g.max_diff = std::max(g.max_diff, double(std::abs(gpu[i] - ref[i])));
    }
    return g;
}

// Largest minus second largest logit.
double topGap(std::span<const float> x) {
    float a = -INFINITY, b = -INFINITY;
    for (float v : x) {
        if (v > a) {
            b = a;
            a = v;
        } else if (v > b) {
            b = v;
        }
    }
    return double(a) - b;
}

TEST_P(ExecutorVsReference, LogitsAndGreedyTokensMatch) {
    const auto file = model::GgufFile::open(test::testModel(GetParam().arch, GetParam().recipe));
    const uint32_t n_ctx = 64;
    Executor gpu(test::device(), file, {.n_ctx = n_ctx, .kv_type = GetParam().kv});
    ASSERT_EQ(gpu.kvCache().shape().type, GetParam().kv);
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, n_ctx, GetParam().kv);
    const uint32_t vocab = gpu.vocabSize();

    // Logits of both paths agree within a tolerance of the logits' scale: the paths
    // differ only in summation order (fp32 accumulation over k <= 512 products in
    // either) and in the device's exp/cos/sin, so 1e-3 of the largest logit is
    // generous and still far below the top-2 gaps that decide greedy tokens. With a
    // q8_0 cache both quantize the same K/V rows; a code may differ by one where x / d
    // lies within rounding of a half (K's rotations differ in the last bits), which
    // moves a score by about 1e-4 of its scale: still well inside 1e-3.
    const double rtol = 1e-3;
    std::vector<uint32_t> history = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366};
    const uint32_t zero = 0;
    // The prompt in steps of 8 (then 3): two buckets, padding columns.
    for (uint32_t at = 0; at < history.size();) {
        const uint32_t n = std::min<uint32_t>(8, static_cast<uint32_t>(history.size()) - at);
        std::vector<uint32_t> pos(n), slots(n, zero);
        std::iota(pos.begin(), pos.end(), at);
        const std::span<const uint32_t> tokens(history.data() + at, n);
        gpu.step(tokens, pos, slots, kEveryLogit);
        const auto expect = ref.forward(tokens, pos);
        for (uint32_t c = 0; c < n; ++c) {
            const Gap g = compare(gpu.logits(c), std::span(expect).subspan(size_t{c} * vocab, vocab));
            ASSERT_LT(g.max_diff, rtol * std::max(1.0, g.max_abs)) << "prompt position " << at + c;
        }
        at += n;
    }
    // Greedy generation: 32 tokens, one per step.
    uint32_t next = ref.lastIds().back();
    int near_ties = 0;
    for (int i = 0; i < 32; ++i) {
        const uint32_t pos = static_cast<uint32_t>(history.size());
        history.push_back(next);
        const auto ids = gpu.step(std::span(&next, 1), std::span(&pos, 1), std::span(&zero, 1), kEveryLogit);
        const uint32_t gpu_id = ids[0];
        const auto expect = ref.forward(std::span(&next, 1), std::span(&pos, 1));
        const Gap g = compare(gpu.logits(0), expect);
        ASSERT_LT(g.max_diff, rtol * std::max(1.0, g.max_abs)) << "generated token " << i;
        EXPECT_EQ(gpu_id, graph::ref::argMax(gpu.logits(0))) << "device argmax disagrees with its own logits";
        if (gpu_id != ref.lastIds()[0]) {
            // Only a near-tie may differ: a top-2 gap within the logits tolerance.
            ASSERT_LT(topGap(expect), 2 * rtol * std::max(1.0, g.max_abs)) << "greedy token " << i << " differs";
            ++near_ties;
        }
        next = gpu_id;
    }
    EXPECT_LE(near_ties, 1);
}

// Tokens 0..n-1 of a fixed pseudo-random prompt over the whole vocabulary.
std::vector<uint32_t> randomPrompt(uint32_t n, uint32_t vocab) {
    std::vector<uint32_t> tokens(n);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (uint32_t& t : tokens) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        t = static_cast<uint32_t>((state >> 33) % vocab);
    }
    return tokens;
}

// Runs tokens[at .. at + n) from position `at` of slot 0 and appends every token's logits.
void runLogits(Executor& e, std::span<const uint32_t> tokens, uint32_t at, uint32_t n, std::vector<float>& out) {
    std::vector<uint32_t> pos(n), slots(n, 0);
    std::iota(pos.begin(), pos.end(), at);
    e.step(tokens.subspan(at, n), pos, slots, kEveryLogit);
    for (uint32_t c = 0; c < n; ++c) {
        const auto row = e.logits(c);
        out.insert(out.end(), row.begin(), row.end());
    }
}

// The prompt kernels (tiled matmul, flash attention, separate RMSNorm): a 40-token
// prompt in one step (bucket 64, padded), then 13 more tokens (bucket 16, attending
// to the pages the first step filled), against the CPU reference at every position;
// a prompt step's default output is the greedy id of its last token.
TEST_P(ExecutorVsReference, PromptChunksMatch) {
    const auto file = model::GgufFile::open(test::testModel(GetParam().arch, GetParam().recipe));
    const uint32_t n_ctx = 64;
    Executor gpu(test::device(), file, {.n_ctx = n_ctx, .kv_type = GetParam().kv});
    ASSERT_EQ(gpu.kvCache().shape().type, GetParam().kv);
    ASSERT_GE(gpu.maxStepTokens(), 64u);
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, n_ctx, GetParam().kv);
    const uint32_t vocab = gpu.vocabSize();
    const double rtol = 1e-3;  // as in LogitsAndGreedyTokensMatch
    const std::vector<uint32_t> tokens = randomPrompt(53, vocab);

    std::vector<float> logits;
    for (const auto& [at, n] : {std::pair{0u, 40u}, std::pair{40u, 13u}}) {
        runLogits(gpu, tokens, at, n, logits);
        std::vector<uint32_t> pos(n);
        std::iota(pos.begin(), pos.end(), at);
        const auto expect = ref.forward(std::span(tokens).subspan(at, n), pos);
        for (uint32_t c = 0; c < n; ++c) {
            const Gap g = compare(std::span(logits).subspan((at + c) * size_t{vocab}, vocab),
                                  std::span(expect).subspan(size_t{c} * vocab, vocab));
            ASSERT_LT(g.max_diff, rtol * std::max(1.0, g.max_abs)) << "prompt position " << at + c;
        }
    }
    std::vector<uint32_t> pos(13), slots(13, 0);
    std::iota(pos.begin(), pos.end(), 40u);
    const auto last = gpu.step(std::span(tokens).subspan(40, 13), pos, slots);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0], graph::ref::argMax(std::span(logits).subspan(52 * size_t{vocab}, vocab)));
}

// One prompt in one step (prompt kernels), in steps of 8 (decode kernels) and token by
// token: the same logits at every position, within the reference tolerance.
TEST_F(ExecutorPromptSteps, OneChunkManyChunksAndTokenByTokenAgree) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "q4_k_m"));
    Executor gpu(test::device(), file, {.n_ctx = 64});
    const uint32_t vocab = gpu.vocabSize();
    const std::vector<uint32_t> tokens = randomPrompt(53, vocab);
    std::vector<float> whole;
    runLogits(gpu, tokens, 0, 53, whole);
    for (const uint32_t step : {8u, 1u}) {
        std::vector<float> other;
        for (uint32_t at = 0; at < tokens.size(); at += step)
            runLogits(gpu, tokens, at, std::min<uint32_t>(step, static_cast<uint32_t>(tokens.size()) - at), other);
        for (size_t c = 0; c < tokens.size(); ++c) {
            const Gap g =
                compare(std::span(other).subspan(c * vocab, vocab), std::span(whole).subspan(c * vocab, vocab));
            ASSERT_LT(g.max_diff, 1e-3 * std::max(1.0, g.max_abs)) << "steps of " << step << ", position " << c;
        }
    }
}

// Int8 activations (ExecutorOptions::int8_activations) on the Q4_0 and Q8_0 models:
// each prompt matmul adds a quantize dispatch, and the logits stay near the reference.
// Quantizing x to 8 bits per 32-element block costs ~4e-3 relative error per product
// (tests/gpu/matmul_int8_test.cpp measures it); through two layers that stays within
// 3e-2 of the largest logit, and the greedy id agrees where the top-2 gap exceeds it.
TEST_F(ExecutorPromptSteps, Int8ActivationsStayNearTheReference) {
    if (!ops::intDotSupported(test::device().caps(), quant::DType::kQ8_0)) GTEST_SKIP() << "no integer dot products";
    for (const char* recipe : {"q4_0", "q8_0"}) {
        SCOPED_TRACE(recipe);
        const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, recipe));
        Executor plain_gpu(test::device(), file, {.n_ctx = 64, .buckets = {64}});
        Executor gpu(test::device(), file, {.n_ctx = 64, .buckets = {64}, .int8_activations = true});
        EXPECT_GT(gpu.dispatches(40), plain_gpu.dispatches(40))
            << "no quantize dispatches: the int8 path is not in use";
        const graph::Graph plain = graph::buildGraph(file);
        graph::ReferenceExecutor ref(plain, file, 64);
        const uint32_t vocab = gpu.vocabSize();
        const std::vector<uint32_t> tokens = randomPrompt(40, vocab);
        std::vector<float> logits;
        runLogits(gpu, tokens, 0, 40, logits);
        std::vector<uint32_t> pos(40);
        std::iota(pos.begin(), pos.end(), 0u);
        const auto expect = ref.forward(tokens, pos);
        double worst = 0;
        for (uint32_t c = 0; c < 40; ++c) {
            const auto got = std::span(logits).subspan(size_t{c} * vocab, vocab);
            const auto want = std::span(expect).subspan(size_t{c} * vocab, vocab);
            const Gap g = compare(got, want);
            worst = std::max(worst, g.max_diff / std::max(1.0, g.max_abs));
            ASSERT_LT(g.max_diff, 3e-2 * std::max(1.0, g.max_abs)) << "prompt position " << c;
            if (topGap(want) > 2 * 3e-2 * std::max(1.0, g.max_abs)) {
                EXPECT_EQ(graph::ref::argMax(got), graph::ref::argMax(want)) << "prompt position " << c;
            }
        }
        RecordProperty(std::string("worst_relative_gap_") + recipe, std::to_string(worst));
    }
}

// Matrices split into row slabs of at most 1 MiB (the token embedding and the output
// matrix into 16, the stacked QKV and the SwiGLU pair into several): the same logits,
// on the decode and on the prompt kernels.
TEST_F(ExecutorSlabs, SplitMatricesGiveTheSameLogits) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "f16"));
    Executor whole(test::device(), file, {.n_ctx = 32});
    Executor split(test::device(), file, {.n_ctx = 32, .max_slab_bytes = 1 << 20});
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, 32);
    // 5 tokens on the decode kernels, 20 on the prompt kernels.
    for (const uint32_t n : {5u, 20u}) {
        std::vector<uint32_t> tokens(n), pos(n), slots(n, 0);
        for (uint32_t i = 0; i < n; ++i) tokens[i] = 1 + (i * 7919u) % 30000u;
        std::iota(pos.begin(), pos.end(), 0u);
        whole.step(tokens, pos, slots, kEveryLogit);
        split.step(tokens, pos, slots, kEveryLogit);
        const auto expect = ref.forward(tokens, pos);
        for (uint32_t c = 0; c < tokens.size(); ++c) {
            const auto a = whole.logits(c), b = split.logits(c);
            // Same kernels on the same rows: a slab boundary changes no summation order.
            for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "position " << c << " logit " << i;
            const Gap g = compare(b, std::span(expect).subspan(size_t{c} * a.size(), a.size()));
            EXPECT_LT(g.max_diff, 1e-3 * std::max(1.0, g.max_abs));
        }
    }
}

// Sliding-window attention (a test model declaring a window of 20 positions) on an
// executor whose largest step is 32 tokens: each sequence's page-table ring holds
// 5 pages of 16 (80 positions), and with one slot the whole pool is those 5 pages, so
// a sequence reaching position 150 wraps its ring twice. Prompt chunks (flash
// attention) and decode tokens (split attention) before and after the wraps match the
// CPU reference of the same windowed computation at every position, greedy tokens
// included; the reference without the window differs, so the window is in force.
TEST_F(ExecutorWindow, RingWrapMatchesTheWindowedReference) {
    constexpr uint32_t kWindow = 20, kCtx = 256;
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "q8_0", 1, kWindow));
    Executor gpu(test::device(), file, {.n_ctx = kCtx, .buckets = {1, 2, 4, 8, 16, 32}});
    const kv::KvCache& kv = gpu.kvCache();
    EXPECT_EQ(kv.window(), kWindow);
    EXPECT_EQ(kv.maxPages(), 5u) << "(window - 1 + step - 1) / 16 + 2";
    EXPECT_EQ(kv.pages(), 5u) << "one slot: the pool is its ring";
    const graph::Graph plain = graph::buildGraph(file);
    ASSERT_EQ(plain.attention.window, kWindow);
    graph::ReferenceExecutor ref(plain, file, kCtx);
    graph::Graph unwindowed_graph = plain;
    unwindowed_graph.attention.window = 0;
    graph::ReferenceExecutor unwindowed(unwindowed_graph, file, kCtx);
    const uint32_t vocab = gpu.vocabSize();
    const double rtol = 1e-3;  // as in LogitsAndGreedyTokensMatch

    std::vector<uint32_t> history;
    double window_effect = 0;  // largest logit change the window makes, relative
    int near_ties = 0;
    // Runs `tokens` at the next positions on both paths and compares every logit and
    // the greedy id after the last token (only a near-tie may differ); returns the
    // device's id.
    auto run = [&](std::span<const uint32_t> tokens, const std::string& what) {
        const uint32_t at = static_cast<uint32_t>(history.size()), n = static_cast<uint32_t>(tokens.size());
        std::vector<uint32_t> pos(n), slots(n, 0);
        std::iota(pos.begin(), pos.end(), at);
        history.insert(history.end(), tokens.begin(), tokens.end());
        const uint32_t id = gpu.step(tokens, pos, slots, kEveryLogit).back();
        const auto expect = ref.forward(tokens, pos);
        const auto other = unwindowed.forward(tokens, pos);
        for (uint32_t c = 0; c < n; ++c) {
            const auto want = std::span(expect).subspan(size_t{c} * vocab, vocab);
            const Gap g = compare(gpu.logits(c), want);
            EXPECT_LT(g.max_diff, rtol * std::max(1.0, g.max_abs)) << what << ", position " << at + c;
            const Gap w = compare(std::span(other).subspan(size_t{c} * vocab, vocab), want);
            window_effect = std::max(window_effect, w.max_diff / std::max(1.0, w.max_abs));
            if (c == n - 1 && id != ref.lastIds().back()) {
                EXPECT_LT(topGap(want), 2 * rtol * std::max(1.0, g.max_abs)) << what << ": greedy token differs";
                ++near_ties;
            }
        }
        EXPECT_LE(kv.stats().used, kv.maxPages());
        return id;
    };
    // Greedy tokens, one step each, fed the device's choice.
    auto generate = [&](uint32_t next, int count) {
        for (int i = 0; i < count; ++i) next = run(std::span(&next, 1), "generated token " + std::to_string(i));
        return next;
    };
    const std::vector<uint32_t> prompt = randomPrompt(45, vocab);
    run(std::span(prompt).first(32), "prompt chunk 1");                           // bucket 32: flash attention
    const uint32_t first = run(std::span(prompt).subspan(32), "prompt chunk 2");  // bucket 16
    generate(first, 60);  // up to position 104: the ring wrapped
    const std::vector<uint32_t> chunk = randomPrompt(70, vocab);
    const uint32_t after = run(std::span(chunk).subspan(46, 24), "chunk after the wrap");
    generate(after, 20);
    EXPECT_EQ(history.size(), 149u);
    EXPECT_LE(near_ties, 1);
    EXPECT_GT(window_effect, 20 * rtol) << "the window changes nothing: the test proves nothing";
    RecordProperty("window_effect", std::to_string(window_effect));
}

// Generator conversations on the windowed model: a second prompt sharing a prefix goes
// on from it while the pages its next position reads are still held, and starts over
// when the ring let go of them; both give the tokens a fresh generator gives.
TEST_F(ExecutorWindow, GeneratorRewindsOnlyWhereTheRingStillHoldsThePages) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "q8_0", 1, 20));
    const model::Tokenizer tokenizer(model::readVocab(file));
    Executor gpu(test::device(), file, {.n_ctx = 256, .buckets = {1, 2, 4, 8, 16, 32}});
    GenerateOptions options;
    options.max_tokens = 40;
    options.sampling.temperature = 0;
    options.stop_at_eog = false;
    Generator chat(gpu, tokenizer);
    const std::vector<uint32_t> first = randomPrompt(60, gpu.vocabSize());
    const GenerateResult a = chat.generate(first, options);
    ASSERT_EQ(a.tokens.size(), 40u);
    std::vector<uint32_t> history = first;
    history.insert(history.end(), a.tokens.begin(), a.tokens.end() - 1);  // 99 positions in the cache

    options.max_tokens = 6;
    auto fresh = [&](std::span<const uint32_t> prompt) {
        Executor other(test::device(), file, {.n_ctx = 256, .buckets = {1, 2, 4, 8, 16, 32}});
        return Generator(other, tokenizer).generate(prompt, options).tokens;
    };
    // Position 95 reads from 76: still held (the ring let go of positions below 48).
    std::vector<uint32_t> near(history.begin(), history.begin() + 95);
    near.insert(near.end(), {3, 4, 5});
    const GenerateResult b = chat.generate(near, options);
    EXPECT_EQ(b.cached_tokens, 95u);
    EXPECT_EQ(b.tokens, fresh(near));
    // Position 30 reads from 11: let go of, so the conversation is computed again.
    std::vector<uint32_t> far(history.begin(), history.begin() + 30);
    far.insert(far.end(), {6, 7});
    const GenerateResult c = chat.generate(far, options);
    EXPECT_EQ(c.cached_tokens, 0u);
    EXPECT_EQ(c.tokens, fresh(far));
}

// A q8_0 KV cache takes 17/32 of the f16 cache's bytes for the same pages, so one
// budget of bytes holds 32/17 times the pages.
TEST_F(ExecutorPromptSteps, Q8_0KvCacheHoldsAboutTwiceThePages) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "q4_k_m"));
    Executor f16(test::device(), file, {.n_ctx = 64, .buckets = {1}});
    Executor q8(test::device(), file, {.n_ctx = 64, .kv_type = quant::DType::kQ8_0, .buckets = {1}});
    EXPECT_EQ(q8.kvCache().pages(), f16.kvCache().pages());
    EXPECT_EQ(q8.kvCache().bytes() * 32, f16.kvCache().bytes() * 17);
    const uint64_t budget = f16.kvCache().bytes();
    Executor q8_budget(test::device(), file,
                       {.n_ctx = 64, .kv_bytes = budget, .kv_type = quant::DType::kQ8_0, .buckets = {1}});
    EXPECT_EQ(q8_budget.kvCache().pages(), budget / kv::pageBytes(q8.kvCache().shape()));
    EXPECT_GE(q8_budget.kvCache().pages() * 17, f16.kvCache().pages() * 32 - 17);
}

INSTANTIATE_TEST_SUITE_P(Models, ExecutorVsReference,
                         ::testing::Values(Case{model::Arch::kLlama, "f16"}, Case{model::Arch::kLlama, "q8_0"},
                                           Case{model::Arch::kLlama, "q4_0"}, Case{model::Arch::kLlama, "q4_k_m"},
                                           Case{model::Arch::kQwen2, "f16"}, Case{model::Arch::kQwen2, "q8_0"},
                                           Case{model::Arch::kQwen2, "q4_0"}, Case{model::Arch::kQwen2, "q4_k_m"},
                                           Case{model::Arch::kLlama, "q4_k_m", quant::DType::kQ8_0},
                                           Case{model::Arch::kQwen2, "f16", quant::DType::kQ8_0}),
                         [](const auto& param_info) {
                             const Case& c = param_info.param;
                             std::string name = std::string(model::archName(c.arch)) + "_" + c.recipe;
                             if (c.kv != quant::DType::kF16) name += std::string("_kv_") + quant::traits(c.kv).name;
                             return name;
                         });

}  // namespace
}  // namespace vki
