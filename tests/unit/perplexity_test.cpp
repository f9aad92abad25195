// The perplexity and KL divergence math on hand-computable cases, the chunk layout, and
// saved logits files: round trip, and corrupt, truncated or mismatched files rejected
// with a clear error.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>

#include "common/error.hpp"
#include "runtime/perplexity.hpp"

namespace vki {
namespace {

void expectError(const std::function<void()>& f, ErrorCode code, const std::string& text) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one containing \"" << text << "\"";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
}

TEST(PerplexityMath, UniformLogitsGiveTheVocabularySize) {
    const uint32_t vocab = 7;
    PerplexityAccumulator acc(vocab);
    const std::vector<float> logits(4 * vocab, 3.5f);
    acc.addChunk(logits, std::vector<uint32_t>{0, 6, 2, 3});
    const PerplexityResult r = acc.result();
    EXPECT_NEAR(r.ppl.value, 7.0, 1e-12);
    EXPECT_EQ(r.ppl.error, 0.0);  // every NLL is ln 7
    EXPECT_EQ(r.scored_tokens, 4u);
    EXPECT_FALSE(r.kl);
}

TEST(PerplexityMath, KnownNllAndStandardError) {
    // logits (0, ln 3): p = (1/4, 3/4); targets 0, 1, 0, 1 give NLL ln 4 and ln 4/3.
    const std::vector<float> row = {0.0f, std::log(3.0f)};
    std::vector<float> logits;
    for (int i = 0; i < 4; ++i) logits.insert(logits.end(), row.begin(), row.end());
    PerplexityAccumulator acc(2);
    acc.addChunk(logits, std::vector<uint32_t>{0, 1, 0, 1});
    const double a = std::log(4.0), b = std::log(4.0 / 3.0);
    const double mean = (a + b) / 2, var = (a - b) * (a - b) / 4;
    const PerplexityResult r = acc.result();
    EXPECT_NEAR(r.ppl.value, std::sqrt(16.0 / 3.0), 1e-6);
    // llama.cpp's error: ppl * sqrt(var / (count - 1)).
    EXPECT_NEAR(r.ppl.error, std::exp(mean) * std::sqrt(var / 3), 1e-6);
    EXPECT_NEAR(logProb(row, 1), std::log(0.75), 1e-7);
}

TEST(PerplexityMath, KlOfIdenticalLogitsIsZero) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    std::vector<float> row(1000);
    for (float& v : row) v = normal(rng);
    const TokenComparison t = compareLogits(row, row, 17);
    EXPECT_EQ(t.kl, 0.0);
    EXPECT_TRUE(t.same_top1);
    EXPECT_EQ(t.nll_base, t.nll_model);
}

TEST(PerplexityMath, KnownKlValues) {
    // P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln 2/3 = 1/2 ln 4/3.
    const std::vector<float> p2 = {0.0f, 0.0f}, q2 = {0.0f, std::log(3.0f)};
    EXPECT_NEAR(compareLogits(p2, q2, 0).kl, 0.5 * std::log(4.0 / 3.0), 1e-7);
    // P = (1/4, 1/2, 1/4), Q uniform: KL = 1/2 ln 3/4 + 1/2 ln 3/2; a shift of the
    // logits changes nothing.
    const std::vector<float> p3 = {0.0f, std::log(2.0f), 0.0f}, q3 = {10.0f, 10.0f, 10.0f};
    const TokenComparison t = compareLogits(p3, q3, 1);
    EXPECT_NEAR(t.kl, 0.5 * std::log(0.75) + 0.5 * std::log(1.5), 1e-7);
    EXPECT_NEAR(t.nll_base, std::log(2.0), 1e-7);
    EXPECT_NEAR(t.nll_model, std::log(3.0), 1e-7);
    // The base's argmax is 1; the model's logits tie and the first index, 0, wins.
    EXPECT_FALSE(t.same_top1);
}

TEST(PerplexityMath, TopOneAgreementDeltaPplAndRatio) {
    // Vocabulary 3; four positions, the model's argmax differs at the last one.
    const std::vector<float> base = {2, 0, 0, /**/ 0, 2, 0, /**/ 0, 0, 2, /**/ 2, 0, 0};
    const std::vector<float> model = {3, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 2, /**/ 0, 2, 0};
    const std::vector<uint32_t> targets = {0, 1, 2, 0};
    PerplexityAccumulator acc(3);
    acc.addChunk(model, targets, base);
    const PerplexityResult r = acc.result();
    ASSERT_TRUE(r.kl);
    EXPECT_NEAR(r.kl->top1.value, 0.75, 1e-12);
    EXPECT_NEAR(r.kl->top1.error, std::sqrt(0.75 * 0.25 / 3), 1e-12);
    double nll = 0, nll_base = 0, kl = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
        const auto t = compareLogits(std::span(base).subspan(3 * i, 3), std::span(model).subspan(3 * i, 3), targets[i]);
        nll += t.nll_model / 4;
        nll_base += t.nll_base / 4;
        kl += t.kl / 4;
    }
    EXPECT_NEAR(r.ppl.value, std::exp(nll), 1e-9);
    EXPECT_NEAR(r.kl->ppl_base.value, std::exp(nll_base), 1e-9);
    EXPECT_NEAR(r.kl->delta_ppl.value, std::exp(nll) - std::exp(nll_base), 1e-9);
    EXPECT_NEAR(r.kl->ppl_ratio, std::exp(nll - nll_base), 1e-9);
    EXPECT_NEAR(r.kl->kl.value, kl, 1e-9);
    // Positions 2 and 3 agree exactly (KL 0); the median lies between the two middle ones.
    EXPECT_GT(r.kl->kl_max, 0.0);
    EXPECT_LE(r.kl->kl_p99, r.kl->kl_max);
    EXPECT_LE(r.kl->kl_median, r.kl->kl_p99);
}

TEST(PerplexityMath, ChunkLayoutFollowsLlamaCpp) {
    const ChunkPlan plan = planChunks(1000, 128);
    EXPECT_EQ(plan.n_chunks, 7u);  // 1000 / 128; the rest is not scored
    EXPECT_EQ(plan.first(), 64u);
    EXPECT_EQ(plan.scoredPerChunk(), 63u);  // positions 64..126 predict tokens 65..127
    EXPECT_EQ(plan.scoredTokens(), 441u);
    EXPECT_EQ(planChunks(1000, 128, 3).n_chunks, 3u);
    EXPECT_EQ(planChunks(256, 128).n_chunks, 2u);
    expectError([] { planChunks(255, 128); }, ErrorCode::kInvalidArgument, "needs at least 256");
    expectError([] { planChunks(100, 7); }, ErrorCode::kInvalidArgument, "--ctx 8 or more");

    std::vector<uint32_t> tokens(17);
    std::iota(tokens.begin(), tokens.end(), 100u);
    const ChunkPlan two = planChunks(tokens.size(), 8);
    EXPECT_EQ(chunkTokens(tokens, two, 1, 1u), (std::vector<uint32_t>{1, 109, 110, 111, 112, 113, 114, 115}));
    EXPECT_EQ(chunkTokens(tokens, two, 1, std::nullopt),
              (std::vector<uint32_t>{108, 109, 110, 111, 112, 113, 114, 115}));
}

// A fake model that puts all its mass on the text's next token: the evaluator sees
// each chunk with BOS first, and the scored rows are predicted from the text.
TEST(PerplexityMath, ChunksScoreTheSecondHalfOfEachChunk) {
    const uint32_t vocab = 50, n_ctx = 8;
    std::vector<uint32_t> tokens(37);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = 2 + (i * 7) % 48;
    const ChunkPlan plan = planChunks(tokens.size(), n_ctx);
    ASSERT_EQ(plan.n_chunks, 4u);
    uint32_t calls = 0;
    const ChunkEvaluator oracle = [&](std::span<const uint32_t> chunk, uint32_t first, std::span<float> out) {
        EXPECT_EQ(chunk.size(), n_ctx);
        EXPECT_EQ(chunk[0], 1u);
        EXPECT_EQ(first, 4u);
        std::fill(out.begin(), out.end(), 0.0f);
        for (uint32_t i = 0; i + first + 1 < n_ctx; ++i) out[i * vocab + tokens[calls * n_ctx + first + 1 + i]] = 60.0f;
        ++calls;
    };
    std::vector<uint32_t> done;
    const PerplexityResult r =
        computePerplexity(tokens, plan, vocab, 1u, oracle, {}, [&](uint32_t d, double) { done.push_back(d); });
    EXPECT_EQ(calls, 4u);
    EXPECT_EQ(done, (std::vector<uint32_t>{1, 2, 3, 4}));
    EXPECT_EQ(r.scored_tokens, 12u);  // 4 chunks x 3
    EXPECT_EQ(r.running_ppl.size(), 4u);
    EXPECT_NEAR(r.ppl.value, 1.0, 1e-12);
}

class PerplexityLogitsFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::path(::testing::TempDir()) / ("vkinfer-logits-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        tokens_.resize(40);
        std::mt19937 rng(5);
        for (uint32_t& t : tokens_) t = rng() % kVocab;
        plan_ = planChunks(tokens_.size(), 8, 3);
        std::normal_distribution<float> normal(0.0f, 2.0f);
        rows_.resize(plan_.n_chunks);
        for (auto& r : rows_) {
            r.resize(size_t{plan_.scoredPerChunk()} * kVocab);
            for (float& v : r) v = normal(rng);
        }
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path save(const std::string& name) {
        const auto path = dir_ / name;
        LogitsWriter w(path, plan_, kVocab, tokens_);
        for (const auto& r : rows_) w.writeChunk(r);
        w.finish();
        return path;
    }
    // Rewrites `bytes` at `offset` (or truncates to `offset` when bytes is empty).
    static void patch(const std::filesystem::path& path, uint64_t offset, const std::vector<char>& bytes) {
        if (bytes.empty()) {
            std::filesystem::resize_file(path, offset);
            return;
        }
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    static constexpr uint32_t kVocab = 11;
    std::filesystem::path dir_;
    std::vector<uint32_t> tokens_;
    ChunkPlan plan_;
    std::vector<std::vector<float>> rows_;
};

TEST_F(PerplexityLogitsFile, RoundTripGivesTheSameNumbers) {
    const auto path = save("base.logits");
    ASSERT_TRUE(LogitsReader::isLogitsFile(path));
    EXPECT_EQ(std::filesystem::file_size(path), 8 + 16 + 8 + 24 * 4 + 3 * 3 * kVocab * 4);
    const LogitsReader reader(path);
    EXPECT_EQ(reader.vocabSize(), kVocab);
    EXPECT_EQ(reader.plan().n_ctx, 8u);
    EXPECT_EQ(reader.plan().n_chunks, 3u);
    EXPECT_EQ(reader.tokens(), std::vector<uint32_t>(tokens_.begin(), tokens_.begin() + 24));
    reader.checkMatches(plan_, kVocab, tokens_);
    reader.checkMatches(planChunks(tokens_.size(), 8, 2), kVocab, tokens_);  // fewer chunks: fine
    std::vector<float> row(rows_[0].size());
    for (uint32_t c = 0; c < 3; ++c) {
        reader.readChunk(c, row);
        EXPECT_EQ(row, rows_[c]) << "chunk " << c;
    }
    // A model scored against the file and against the rows in memory.
    const ChunkEvaluator model = [&](std::span<const uint32_t> chunk, uint32_t, std::span<float> out) {
        for (size_t i = 0; i < out.size(); ++i) out[i] = float((i * 13 + chunk[1]) % 7);
    };
    uint32_t next = 0;
    const auto from_memory =
        computePerplexity(tokens_, plan_, kVocab, 1u, model, [&](uint32_t c, std::span<float> out) {
            EXPECT_EQ(c, next++);
            std::copy(rows_[c].begin(), rows_[c].end(), out.begin());
        });
    const auto from_file = computePerplexity(tokens_, plan_, kVocab, 1u, model,
                                             [&](uint32_t c, std::span<float> out) { reader.readChunk(c, out); });
    ASSERT_TRUE(from_memory.kl && from_file.kl);
    EXPECT_EQ(from_memory.ppl.value, from_file.ppl.value);
    EXPECT_EQ(from_memory.kl->kl.value, from_file.kl->kl.value);
    EXPECT_EQ(from_memory.kl->ppl_base.value, from_file.kl->ppl_base.value);
    EXPECT_EQ(from_memory.kl->top1.value, from_file.kl->top1.value);
}

TEST_F(PerplexityLogitsFile, MismatchedRunsAreClearErrors) {
    const LogitsReader reader(save("base.logits"));
    expectError([&] { reader.checkMatches(plan_, kVocab + 1, tokens_); }, ErrorCode::kInvalidArgument,
                "vocabulary of 11 tokens; this model has 12");
    const ChunkPlan other_ctx = planChunks(tokens_.size(), 10, 2);
    expectError([&] { reader.checkMatches(other_ctx, kVocab, tokens_); }, ErrorCode::kInvalidArgument,
                "saved with --ctx 8");
    const ChunkPlan more = planChunks(tokens_.size(), 8, 4);
    expectError([&] { reader.checkMatches(more, kVocab, tokens_); }, ErrorCode::kInvalidArgument,
                "holds 3 chunks; this run has 4");
    std::vector<uint32_t> changed = tokens_;
    changed[19] = (changed[19] + 1) % kVocab;
    expectError([&] { reader.checkMatches(plan_, kVocab, changed); }, ErrorCode::kInvalidArgument,
                "the text differs from the one");
}

TEST_F(PerplexityLogitsFile, CorruptAndTruncatedFilesAreClearErrors) {
    const uint64_t full = std::filesystem::file_size(save("base.logits"));
    const auto copy = [&](const std::string& name) {
        std::filesystem::copy_file(dir_ / "base.logits", dir_ / name);
        return dir_ / name;
    };
    auto p = copy("cut.logits");
    patch(p, full - 4, {});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "(truncated)");
    p = copy("header.logits");
    patch(p, 20, {});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "too short for a saved-logits header");
    p = copy("long.logits");
    patch(p, full, {'x', 'x', 'x', 'x'});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "its header says");
    p = copy("magic.logits");
    patch(p, 0, {'G', 'G', 'U', 'F'});
    EXPECT_FALSE(LogitsReader::isLogitsFile(p));
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "is not a logits file");
    p = copy("version.logits");
    patch(p, 8, {2, 0, 0, 0});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "version 2");
    p = copy("vocab.logits");
    patch(p, 12, {0, 0, 0, 0});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "is corrupt");
    p = copy("tokens.logits");
    patch(p, 24, {char(0xff), char(0xff), char(0xff), char(0xff), char(0xff), char(0xff), char(0xff), 0x7f});
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "is corrupt");
    p = copy("chunks.logits");
    patch(p, 20, {char(0xff), char(0xff), 0, 0});  // 65535 chunks: the token count no longer agrees
    expectError([&] { LogitsReader r(p); }, ErrorCode::kBadFile, "is corrupt");
    expectError([&] { LogitsReader r(dir_ / "missing.logits"); }, ErrorCode::kIo, "cannot open");
}

TEST_F(PerplexityLogitsFile, UnfinishedWriterLeavesNoFile) {
    {
        LogitsWriter w(dir_ / "partial.logits", plan_, kVocab, tokens_);
        w.writeChunk(rows_[0]);
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir_));
    expectError([&] { LogitsWriter w(dir_ / "no-such-dir" / "x.logits", plan_, kVocab, tokens_); }, ErrorCode::kIo,
                "cannot create");
}

}  // namespace
}  // namespace vki
