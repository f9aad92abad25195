// Perplexity end to end on random-weight test models: the Vulkan executor's numbers
// against the CPU reference executor's, a model against itself, and quantizations of
// one set of weights against their F16 model.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "graph/build.hpp"
#include "graph/reference.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/vocab_io.hpp"
#include "runtime/executor.hpp"
#include "runtime/perplexity.hpp"
#include "support/gpu.hpp"
#include "support/sample_text.hpp"
#include "support/test_models.hpp"

namespace vki {
namespace {

// Two chunks of 64 tokens: 62 scored tokens, small enough for lavapipe.
constexpr uint32_t kCtx = 64;
constexpr uint32_t kChunks = 2;

struct Text {
    std::vector<uint32_t> tokens;
    std::optional<uint32_t> bos;
    ChunkPlan plan;
};

Text tokenize(const model::GgufFile& file) {
    const model::Vocab vocab = model::readVocab(file);
    const model::Tokenizer tokenizer(vocab);
    Text t;
    for (int32_t id : tokenizer.encode(test::sampleText(40), true, false)) t.tokens.push_back(uint32_t(id));
    if (vocab.add_bos) t.bos = uint32_t(vocab.bos_id);
    t.plan = planChunks(t.tokens.size(), kCtx, kChunks);
    return t;
}

// The reference executor as a chunk evaluator: one forward pass over the chunk.
ChunkEvaluator referenceEvaluator(graph::ReferenceExecutor& ref, uint32_t n_vocab) {
    return [&ref, n_vocab](std::span<const uint32_t> chunk, uint32_t first, std::span<float> out) {
        const uint32_t n = static_cast<uint32_t>(chunk.size()) - 1;
        std::vector<uint32_t> positions(n);
        std::iota(positions.begin(), positions.end(), 0u);
        const std::vector<float> logits = ref.forward(chunk.first(n), positions);  // (n, n_vocab)
        std::copy(logits.begin() + size_t{first} * n_vocab, logits.end(), out.begin());
    };
}

class PerplexityE2E : public test::GpuTest {};

TEST_F(PerplexityE2E, VulkanMatchesTheCpuReference) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "q8_0"));
    const Text text = tokenize(file);
    ASSERT_EQ(text.plan.n_chunks, kChunks);
    Executor gpu(test::device(), file, {.n_ctx = kCtx});
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, kCtx);
    const uint32_t vocab = gpu.vocabSize();
    const ChunkEvaluator reference = referenceEvaluator(ref, vocab);
    // The reference is the base: its perplexity comes out as ppl_base.
    const PerplexityResult r = computePerplexity(
        text.tokens, text.plan, vocab, text.bos, executorEvaluator(gpu), [&](uint32_t chunk, std::span<float> out) {
            reference(chunkTokens(text.tokens, text.plan, chunk, text.bos), text.plan.first(), out);
        });
    ASSERT_TRUE(r.kl);
    EXPECT_EQ(r.scored_tokens, kChunks * 31u);  // 64 - 1 - 32 per chunk
    // ppl = exp(mean NLL), so the relative gap of the two ppls is the gap of their mean
    // NLLs. Each NLL (log-sum-exp minus the target's logit) differs between the paths by
    // at most twice their logits' gap: summation order and the device's exp, within
    // 1e-3 of the largest logit (executor_test), and the per-token errors mostly cancel
    // in the mean (measured on lavapipe: 2e-7). 1e-3 leaves room for other drivers and
    // still fails on a scoring error (a wrong row or target moves ppl by percents).
    EXPECT_NEAR(r.ppl.value, r.kl->ppl_base.value, 1e-3 * r.kl->ppl_base.value);
    EXPECT_LT(r.kl->kl.value, 1e-4);
    EXPECT_GE(r.kl->top1.value, 0.95);
    RecordProperty("ppl_vulkan", std::to_string(r.ppl.value));
    RecordProperty("ppl_reference", std::to_string(r.kl->ppl_base.value));
    RecordProperty("kl_reference_vulkan", std::to_string(r.kl->kl.value));
}

TEST_F(PerplexityE2E, QuantizationsAgainstF16) {
    const auto f16 = model::GgufFile::open(test::testModel(model::Arch::kLlama, "f16"));
    const Text text = tokenize(f16);
    const ChunkPlan& plan = text.plan;
    // F16 logits of every chunk, (chunks, scored, n_vocab).
    std::vector<std::vector<float>> base(plan.n_chunks);
    uint32_t vocab = 0;
    PerplexityResult self;
    {
        Executor gpu(test::device(), f16, {.n_ctx = kCtx});
        vocab = gpu.vocabSize();
        const ChunkEvaluator run = executorEvaluator(gpu);
        for (uint32_t c = 0; c < plan.n_chunks; ++c) {
            base[c].resize(size_t{plan.scoredPerChunk()} * vocab);
            run(chunkTokens(text.tokens, plan, c, text.bos), plan.first(), base[c]);
        }
        // The model against itself (first chunk): the same logits, so KL 0 and full agreement.
        self = computePerplexity(
            text.tokens, planChunks(text.tokens.size(), kCtx, 1), vocab, text.bos, run,
            [&](uint32_t c, std::span<float> out) { std::copy(base[c].begin(), base[c].end(), out.begin()); });
    }
    ASSERT_TRUE(self.kl);
    EXPECT_EQ(self.kl->kl.value, 0.0);
    EXPECT_EQ(self.kl->top1.value, 1.0);
    EXPECT_EQ(self.kl->delta_ppl.value, 0.0);

    double kl[2] = {};
    const char* recipes[2] = {"q8_0", "q4_0"};
    for (int i = 0; i < 2; ++i) {
        const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, recipes[i]));
        Executor gpu(test::device(), file, {.n_ctx = kCtx});
        const PerplexityResult r = computePerplexity(
            text.tokens, plan, vocab, text.bos, executorEvaluator(gpu),
            [&](uint32_t c, std::span<float> out) { std::copy(base[c].begin(), base[c].end(), out.begin()); });
        ASSERT_TRUE(r.kl);
        kl[i] = r.kl->kl.value;
        EXPECT_GT(kl[i], 0.0) << recipes[i];
        RecordProperty(std::string("kl_") + recipes[i], std::to_string(kl[i]));
    }
    // Same weights, coarser rounding: Q4_0's error in every weight is several times
    // Q8_0's, and KL grows with the square of the logits' error.
    EXPECT_LT(kl[0], kl[1]);
}

}  // namespace
}  // namespace vki
