// End to end: the Vulkan executor against the CPU reference executor on random-weight
// models of both architectures in F16, Q8_0, Q4_0 and Q4_K_M. The reference runs the
// plain (unfused) graph, so fusion, kernels, slabs, the paged cache and the recorded
// plans are all under test. Logits are compared at every position; greedy tokens are
// compared for 32 generated tokens, each step fed the Vulkan path's own choice.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "graph/build.hpp"
#include "graph/reference.hpp"
#include "graph/reference_ops.hpp"
#include "runtime/executor.hpp"
#include "support/gpu.hpp"
#include "support/test_models.hpp"

namespace vki {
namespace {

struct Case {
    model::Arch arch;
    const char* recipe;
};

class ExecutorVsReference : public test::GpuTest, public ::testing::WithParamInterface<Case> {};
class ExecutorSlabs : public test::GpuTest {};

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
    Executor gpu(test::device(), file, {.n_ctx = n_ctx});
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, n_ctx);
    const uint32_t vocab = gpu.vocabSize();

    // Logits of both paths agree within a tolerance of the logits' scale: the paths
    // differ only in summation order (fp32 accumulation over k <= 512 products in
    // either) and in the device's exp/cos/sin, so 1e-3 of the largest logit is
    // generous and still far below the top-2 gaps that decide greedy tokens.
    const double rtol = 1e-3;
    std::vector<uint32_t> history = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366};
    const uint32_t zero = 0;
    // The prompt in steps of 8 (then 3): two buckets, padding columns.
    for (uint32_t at = 0; at < history.size();) {
        const uint32_t n = std::min<uint32_t>(8, static_cast<uint32_t>(history.size()) - at);
        std::vector<uint32_t> pos(n), slots(n, zero);
        std::iota(pos.begin(), pos.end(), at);
        const std::span<const uint32_t> tokens(history.data() + at, n);
        gpu.step(tokens, pos, slots, true);
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
        const auto ids = gpu.step(std::span(&next, 1), std::span(&pos, 1), std::span(&zero, 1), true);
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

// Matrices split into row slabs of at most 1 MiB (the token embedding and the output
// matrix into 16, the stacked QKV and the SwiGLU pair into several): the same logits.
TEST_F(ExecutorSlabs, SplitMatricesGiveTheSameLogits) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "f16"));
    Executor whole(test::device(), file, {.n_ctx = 32});
    Executor split(test::device(), file, {.n_ctx = 32, .max_slab_bytes = 1 << 20});
    const graph::Graph plain = graph::buildGraph(file);
    graph::ReferenceExecutor ref(plain, file, 32);
    const std::vector<uint32_t> tokens = {1, 450, 4996, 17354, 1701};
    const std::vector<uint32_t> pos = {0, 1, 2, 3, 4}, slots(5, 0);
    whole.step(tokens, pos, slots, true);
    split.step(tokens, pos, slots, true);
    const auto expect = ref.forward(tokens, pos);
    for (uint32_t c = 0; c < tokens.size(); ++c) {
        const auto a = whole.logits(c), b = split.logits(c);
        // Same kernels on the same rows: a slab boundary changes no summation order.
        for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "position " << c << " logit " << i;
        const Gap g = compare(b, std::span(expect).subspan(size_t{c} * a.size(), a.size()));
        EXPECT_LT(g.max_diff, 1e-3 * std::max(1.0, g.max_abs));
    }
}

INSTANTIATE_TEST_SUITE_P(Models, ExecutorVsReference,
                         ::testing::Values(Case{model::Arch::kLlama, "f16"}, Case{model::Arch::kLlama, "q8_0"},
                                           Case{model::Arch::kLlama, "q4_0"}, Case{model::Arch::kLlama, "q4_k_m"},
                                           Case{model::Arch::kQwen2, "f16"}, Case{model::Arch::kQwen2, "q8_0"},
                                           Case{model::Arch::kQwen2, "q4_0"}, Case{model::Arch::kQwen2, "q4_k_m"}),
                         [](const auto& param_info) {
                             return std::string(model::archName(param_info.param.arch)) + "_" + param_info.param.recipe;
                         });

}  // namespace
}  // namespace vki
