// Graph building, fusion and memory planning, checked with the CPU reference: the
// fused graph computes what the plain graph computes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "common/error.hpp"
#include "graph/build.hpp"
#include "graph/passes.hpp"
#include "graph/reference.hpp"
#include "model/gguf.hpp"
#include "support/test_models.hpp"

namespace vki::graph {
namespace {

int count(const Graph& g, OpKind kind) {
    return static_cast<int>(std::count_if(g.ops.begin(), g.ops.end(), [&](const Op& op) { return op.kind == kind; }));
}

struct Case {
    model::Arch arch;
    const char* recipe;
};

class GraphModels : public ::testing::TestWithParam<Case> {};

TEST_P(GraphModels, FusedGraphComputesThePlainGraph) {
    const auto file = model::GgufFile::open(test::testModel(GetParam().arch, GetParam().recipe));
    const Graph plain = buildGraph(file);
    Graph fused = plain;
    fuse(fused);
    const uint32_t layers = plain.config.n_layer;
    // Per layer: stacked QKV (or QK + V when V's dtype differs), rope_kv, attention,
    // output projection, gate/up with SwiGLU, down; plus embed, lm_head, argmax.
    EXPECT_EQ(count(fused, OpKind::kRmsNorm), 0);
    EXPECT_EQ(count(fused, OpKind::kAdd), 0);
    EXPECT_EQ(count(fused, OpKind::kSwiGlu), 0);
    EXPECT_EQ(count(fused, OpKind::kRope), 0);
    EXPECT_EQ(count(fused, OpKind::kKvStore), 0);
    EXPECT_EQ(count(fused, OpKind::kRopeKv), static_cast<int>(layers));
    EXPECT_LE(count(fused, OpKind::kMatMul), static_cast<int>(5 * layers + 1)) << fused.dump();
    EXPECT_GE(count(fused, OpKind::kMatMul), static_cast<int>(4 * layers + 1)) << fused.dump();

    ReferenceExecutor a(plain, file, 64), b(fused, file, 64);
    const std::vector<uint32_t> tokens = {1, 15043, 29892, 920, 526, 366, 29973, 306};
    for (size_t step = 0; step < 2; ++step) {
        // Step 0: a chunk of 5 tokens; step 1: the other 3.
        const size_t lo = step == 0 ? 0 : 5, hi = step == 0 ? 5 : tokens.size();
        std::vector<uint32_t> t(tokens.begin() + lo, tokens.begin() + hi), pos(hi - lo);
        std::iota(pos.begin(), pos.end(), static_cast<uint32_t>(lo));
        const auto la = a.forward(t, pos), lb = b.forward(t, pos);
        ASSERT_EQ(la.size(), lb.size());
        double max_abs = 0, max_diff = 0;
        for (size_t i = 0; i < la.size(); ++i) {
            max_abs = std::max(max_abs, double(std::abs(la[i])));
            max_diff = std::max(max_diff, double(std::abs(la[i] - lb[i])));
        }
        // Same arithmetic in a different grouping (norm recomputed per matmul,
        // stacked rows): differences are fp32 rounding only.
        EXPECT_LT(max_diff, 1e-4 * std::max(1.0, max_abs)) << "step " << step;
        EXPECT_EQ(a.lastIds(), b.lastIds());
    }
}

TEST_P(GraphModels, ChunkedAndTokenByTokenAgree) {
    const auto file = model::GgufFile::open(test::testModel(GetParam().arch, GetParam().recipe));
    Graph g = buildGraph(file);
    fuse(g);
    ReferenceExecutor whole(g, file, 64), single(g, file, 64);
    const std::vector<uint32_t> tokens = {1, 450, 4996, 17354, 1701, 29916};
    std::vector<uint32_t> pos(tokens.size());
    std::iota(pos.begin(), pos.end(), 0u);
    const auto lw = whole.forward(tokens, pos);
    const size_t vocab = g.config.n_vocab;
    for (uint32_t i = 0; i < tokens.size(); ++i) {
        const auto ls = single.forward(std::span(&tokens[i], 1), std::span(&pos[i], 1));
        for (size_t j = 0; j < vocab; ++j) ASSERT_NEAR(ls[j], lw[i * vocab + j], 1e-4f) << "token " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Formats, GraphModels,
                         ::testing::Values(Case{model::Arch::kLlama, "f16"}, Case{model::Arch::kQwen2, "f16"},
                                           Case{model::Arch::kLlama, "q4_k_m"}, Case{model::Arch::kQwen2, "q4_k_m"}),
                         [](const auto& param_info) {
                             return std::string(model::archName(param_info.param.arch)) + "_" + param_info.param.recipe;
                         });

TEST(MemoryPlan, LiveValuesNeverShareBytes) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "f16"));
    Graph g = buildGraph(file);
    fuse(g);
    const uint32_t n = 4;
    const MemoryPlan plan = planMemory(g, n, 64);
    EXPECT_LT(plan.bytes, plan.unshared_bytes);
    // Recompute lifetimes and check every overlapping pair is disjoint in memory.
    std::vector<int> first(g.values.size(), -1), last(g.values.size(), -1);
    for (int i = 0; i < static_cast<int>(g.ops.size()); ++i) {
        auto touch = [&](ValueId v) {
            if (first[v] < 0) first[v] = i;
            last[v] = i;
        };
        for (const Operand& o : g.ops[i].in) touch(o.value);
        if (g.ops[i].out != kNone) touch(g.ops[i].out);
    }
    last[g.logits] = static_cast<int>(g.ops.size());
    for (size_t a = 0; a < g.values.size(); ++a) {
        if (first[a] < 0) continue;
        ASSERT_NE(plan.offsets[a], MemoryPlan::kUnused);
        for (size_t b = a + 1; b < g.values.size(); ++b) {
            if (first[b] < 0 || last[a] < first[b] || last[b] < first[a]) continue;
            const uint64_t a0 = plan.offsets[a], a1 = a0 + uint64_t{n} * g.values[a].width * 4;
            const uint64_t b0 = plan.offsets[b], b1 = b0 + uint64_t{n} * g.values[b].width * 4;
            EXPECT_TRUE(a1 <= b0 || b1 <= a0) << g.values[a].name << " overlaps " << g.values[b].name;
        }
    }
}

// A model file with one tensor left out or misshapen: the error names it.
std::vector<std::byte> rewrite(const model::GgufFile& file, const std::string& drop, const std::string& reshape) {
    model::GgufWriter w;
    for (const auto& kv : file.metadata()) w.set(kv.key, kv.value);
    for (const auto& t : file.tensors()) {
        if (t.name == drop) continue;
        auto shape = t.shape;
        if (t.name == reshape) shape.back() -= 1;
        const auto data = file.tensorData(t);
        const uint64_t bytes =
            quant::byteSize(t.type, std::accumulate(shape.begin(), shape.end(), uint64_t{1}, std::multiplies<>()));
        w.addTensor(t.name, shape, t.type, [data, bytes](const auto& emit) { emit(data.first(bytes)); });
    }
    const auto path = std::filesystem::path(VKI_TEST_CACHE_DIR) / ("broken-" + std::to_string(getpid()) + ".gguf");
    w.write(path);
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove(path);
    std::vector<std::byte> out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

// buildGraph on `file` throws `code` with `text` in its message.
void expectBuildError(const model::GgufFile& file, ErrorCode code, const std::string& text) {
    try {
        buildGraph(file);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code);
        EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
}

TEST(BuildGraph, MissingTensorIsNamed) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kLlama, "f16"));
    const auto bytes = rewrite(file, "blk.1.ffn_up.weight", "");
    expectBuildError(model::GgufFile::fromMemory(bytes, "broken.gguf"), ErrorCode::kBadFile,
                     "'blk.1.ffn_up.weight' is missing");
}

TEST(BuildGraph, MisshapenTensorIsNamed) {
    const auto file = model::GgufFile::open(test::testModel(model::Arch::kQwen2, "f16"));
    const auto bytes = rewrite(file, "", "blk.0.attn_k.weight");
    expectBuildError(model::GgufFile::fromMemory(bytes, "broken.gguf"), ErrorCode::kBadFile,
                     "'blk.0.attn_k.weight' has shape [256, 63]");
}

TEST(BuildGraph, UnknownArchitectureListsSupported) {
    model::GgufWriter w;
    w.set("general.architecture", model::GgufValue::string("mamba"));
    const auto path = std::filesystem::path(VKI_TEST_CACHE_DIR) / ("mamba-" + std::to_string(getpid()) + ".gguf");
    std::filesystem::create_directories(path.parent_path());
    w.write(path);
    expectBuildError(model::GgufFile::open(path), ErrorCode::kUnsupported, "supported: llama, qwen2");
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace vki::graph
