#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "runtime/sampler.hpp"

namespace vki {
namespace {

SamplingParams plain(float temperature) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

std::vector<float> randomLogits(size_t n, uint32_t seed, float scale = 3.0f) {
    std::mt19937 gen(seed);  // mt19937 itself is portable; only the distributions are not
    std::vector<float> logits(n);
    for (float& l : logits) l = scale * static_cast<float>(gen() % 100000) / 100000.0f;
    return logits;
}

std::vector<uint32_t> drawMany(Sampler& sampler, const std::vector<float>& logits, int n) {
    std::vector<uint32_t> tokens(static_cast<size_t>(n));
    for (uint32_t& t : tokens) t = sampler.sample(logits);
    return tokens;
}

// Ids sorted by (logit desc, id asc), the order the sampler breaks ties in.
std::vector<uint32_t> ranked(const std::vector<float>& logits) {
    std::vector<uint32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0u);
    std::sort(ids.begin(), ids.end(),
              [&](uint32_t a, uint32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    return ids;
}

// Reference top-p by a full sort: the smallest ranked prefix whose probability reaches p.
std::set<uint32_t> topPReference(const std::vector<float>& logits, double p) {
    const auto ids = ranked(logits);
    const double max = logits[ids[0]];
    double total = 0;
    for (float l : logits) total += std::exp(l - max);
    std::set<uint32_t> kept;
    double cumulative = 0;
    for (uint32_t id : ids) {
        kept.insert(id);
        cumulative += std::exp(logits[id] - max) / total;
        if (cumulative >= p) break;
    }
    return kept;
}

TEST(Sampler, GreedyReturnsArgmaxFirstOnTies) {
    Sampler sampler(plain(0.0f), 6);
    EXPECT_EQ(sampler.sample(std::vector<float>{1, 3, -2, 3, 2, 0}), 1u);
    EXPECT_EQ(sampler.sample(std::vector<float>{-5, -4, -9, -4.5f, -7, -6}), 1u);
    const float ninf = -std::numeric_limits<float>::infinity();
    EXPECT_EQ(sampler.sample(std::vector<float>{ninf, ninf, ninf, ninf, ninf, -100}), 5u);
    EXPECT_TRUE(plain(0.0f).greedy());
}

TEST(Sampler, TopKOneIsArgmaxAtAnyTemperature) {
    const auto logits = randomLogits(1000, 7);
    const uint32_t argmax = ranked(logits)[0];
    for (float temperature : {0.1f, 1.0f, 100.0f}) {
        SamplingParams p = plain(temperature);
        p.top_k = 1;
        EXPECT_TRUE(p.greedy());
        Sampler sampler(p, 1000);
        for (int i = 0; i < 50; ++i) ASSERT_EQ(sampler.sample(logits), argmax) << "temperature " << temperature;
    }
}

TEST(Sampler, FixedSeedIsReproducibleAndSeedsDiffer) {
    const auto logits = randomLogits(50, 1);
    SamplingParams p = plain(1.0f);
    p.seed = 42;
    Sampler a(p, 50), b(p, 50);
    const auto first = drawMany(a, logits, 500);
    EXPECT_EQ(first, drawMany(b, logits, 500));
    a.reset();
    EXPECT_EQ(first, drawMany(a, logits, 500)) << "reset() reseeds";
    p.seed = 43;
    Sampler c(p, 50);
    EXPECT_NE(first, drawMany(c, logits, 500));
}

// The tokens of a fixed seed are part of the contract: the same on every platform and
// release. A change here breaks users' reproducible runs; make it deliberately.
TEST(Sampler, FixedSeedGivesKnownTokens) {
    SamplingParams p = plain(1.0f);
    p.seed = 1234;
    Sampler sampler(p, 8);
    const std::vector<float> logits = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 0.25f, 0.75f, 1.25f};
    const std::vector<uint32_t> expected = {1, 6, 4, 7, 1, 7, 4, 2, 4, 4, 4, 3, 2, 4, 3, 6};
    EXPECT_EQ(drawMany(sampler, logits, 16), expected);
}

TEST(Sampler, DistributionMatchesSoftmax) {
    const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
    const float temperature = 0.7f;
    const int n_draws = 20000;
    SamplingParams p = plain(temperature);
    p.seed = 7;
    Sampler sampler(p, 6);
    std::vector<int> counts(6);
    for (int i = 0; i < n_draws; ++i) ++counts[sampler.sample(logits)];

    std::vector<double> expected(6);
    double total = 0;
    for (size_t i = 0; i < 6; ++i) total += expected[i] = std::exp(logits[i] / temperature);
    double chi_square = 0, total_variation = 0;
    for (size_t i = 0; i < 6; ++i) {
        const double e = n_draws * expected[i] / total;
        chi_square += (counts[i] - e) * (counts[i] - e) / e;
        total_variation += std::abs(counts[i] - e) / n_draws / 2;
    }
    // 5 degrees of freedom: P(chi2 > 20.52) = 0.001 for a correct sampler.
    EXPECT_LT(chi_square, 20.52);
    EXPECT_LT(total_variation, 0.02);
}

TEST(Sampler, TopKNeverReturnsExcluded) {
    const auto logits = randomLogits(500, 3);
    const auto ids = ranked(logits);
    const std::set<uint32_t> allowed(ids.begin(), ids.begin() + 5);
    SamplingParams p = plain(5.0f);  // hot, so that a leak would show
    p.top_k = 5;
    Sampler sampler(p, 500);
    std::set<uint32_t> seen;
    for (uint32_t t : drawMany(sampler, logits, 2000)) {
        ASSERT_TRUE(allowed.count(t)) << "token " << t << " is outside the top 5";
        seen.insert(t);
    }
    EXPECT_EQ(seen, allowed);
}

TEST(Sampler, TopPNeverReturnsExcluded) {
    // p = (0.5, 0.3, 0.15, 0.05): top_p 0.75 keeps the first two (0.5 < 0.75 <= 0.8).
    const std::vector<float> small = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    SamplingParams p = plain(5.0f);
    p.top_p = 0.75f;
    Sampler sampler(p, 4);
    std::set<uint32_t> seen;
    for (uint32_t t : drawMany(sampler, small, 1000)) seen.insert(t);
    EXPECT_EQ(seen, (std::set<uint32_t>{0, 1}));

    // 600 tied tokens over a floor of 4400: the lazy chunked sort must cross chunk
    // boundaries and break ties by id like a full sort does.
    std::vector<float> tied(5000, -20.0f);
    std::mt19937 gen(5);
    for (int i = 0; i < 600; ++i) tied[gen() % 5000] = 0.0f;
    for (const auto& logits : {tied, randomLogits(5000, 11, 8.0f)}) {
        const auto allowed = topPReference(logits, 0.9);
        p.top_p = 0.9f;
        Sampler large(p, 5000);
        for (uint32_t t : drawMany(large, logits, 300)) ASSERT_TRUE(allowed.count(t)) << "token " << t;
    }
}

TEST(Sampler, MinPNeverReturnsExcluded) {
    // p = (0.5, 0.3, 0.15, 0.05): min_p 0.2 keeps p >= 0.1, all but the last.
    const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    SamplingParams p = plain(5.0f);
    p.min_p = 0.2f;
    Sampler sampler(p, 4);
    std::set<uint32_t> seen;
    for (uint32_t t : drawMany(sampler, logits, 1000)) seen.insert(t);
    EXPECT_EQ(seen, (std::set<uint32_t>{0, 1, 2}));
}

// llama.cpp's order: top-p sees the probabilities renormalized over top-k's survivors.
// p = (0.5, 0.3, 0.15, 0.05); over the top 3 they become (0.526, 0.316, 0.158), so top_p
// 0.83 keeps two; applied to the whole vocabulary it would keep three (0.8 < 0.83).
TEST(Sampler, TopPRenormalizesAfterTopK) {
    const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    SamplingParams p = plain(5.0f);
    p.top_k = 3;
    p.top_p = 0.83f;
    Sampler sampler(p, 4);
    std::set<uint32_t> seen;
    for (uint32_t t : drawMany(sampler, logits, 1000)) seen.insert(t);
    EXPECT_EQ(seen, (std::set<uint32_t>{0, 1}));

    p.top_k = 0;
    Sampler no_top_k(p, 4);
    seen.clear();
    for (uint32_t t : drawMany(no_top_k, logits, 1000)) seen.insert(t);
    EXPECT_EQ(seen, (std::set<uint32_t>{0, 1, 2}));
}

TEST(Sampler, DefaultChainOnLargeVocab) {
    const uint32_t n_vocab = 150000;
    auto logits = randomLogits(n_vocab, 9, 20.0f);
    const auto ids = ranked(logits);
    const std::set<uint32_t> top40(ids.begin(), ids.begin() + 40);
    Sampler sampler(SamplingParams{}, n_vocab);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(top40.count(sampler.sample(logits)));

    SamplingParams no_top_k;
    no_top_k.top_k = 0;
    Sampler wide(no_top_k, n_vocab);
    const auto allowed = topPReference(logits, 0.95);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(allowed.count(wide.sample(logits)));
}

TEST(Sampler, PenaltiesChangeExactlyTheWindow) {
    SamplingParams p = plain(0.0f);
    p.repeat_penalty = 1.5f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    p.penalty_last_n = 4;
    Sampler sampler(p, 8);
    for (uint32_t t : {1u, 2u, 2u, 3u, 5u, 5u}) sampler.accept(t);  // window: 2 3 5 5

    const std::vector<float> logits = {2.0f, 4.0f, 3.0f, -1.0f, 0.5f, 6.0f, -2.0f, 1.0f};
    std::vector<float> got = logits;
    sampler.applyPenalties(got);
    auto penalized = [&](float l, int count) {
        l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
        return l - p.presence_penalty * (count > 0) - p.frequency_penalty * count;
    };
    const std::vector<int> counts = {0, 0, 1, 1, 0, 2, 0, 0};  // token 1 fell out of the window
    for (size_t i = 0; i < logits.size(); ++i) {
        const float want = counts[i] ? penalized(logits[i], counts[i]) : logits[i];
        EXPECT_FLOAT_EQ(got[i], want) << "token " << i;
    }
    // 6 -> 6/1.5 - 0.5 - 0.5 = 3 drops below token 1's untouched 4.
    EXPECT_EQ(sampler.sample(logits), 1u);
    sampler.reset();
    EXPECT_EQ(sampler.sample(logits), 5u) << "reset() empties the window";
}

TEST(Sampler, ValidateRejectsBadParams) {
    auto expectInvalid = [](auto mutate, const char* field) {
        SamplingParams p;
        mutate(p);
        try {
            p.validate();
            ADD_FAILURE() << field << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
            EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
        }
        EXPECT_THROW(Sampler(p, 10), Error);
    };
    expectInvalid([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
    expectInvalid([](SamplingParams& p) { p.temperature = NAN; }, "temperature");
    expectInvalid([](SamplingParams& p) { p.top_k = -1; }, "top_k");
    expectInvalid([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p");
    expectInvalid([](SamplingParams& p) { p.top_p = 1.01f; }, "top_p");
    expectInvalid([](SamplingParams& p) { p.min_p = -0.01f; }, "min_p");
    expectInvalid([](SamplingParams& p) { p.min_p = 1.0f; }, "min_p");
    expectInvalid([](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat_penalty");
    expectInvalid([](SamplingParams& p) { p.presence_penalty = INFINITY; }, "presence_penalty");
    expectInvalid([](SamplingParams& p) { p.frequency_penalty = NAN; }, "frequency_penalty");
    expectInvalid([](SamplingParams& p) { p.penalty_last_n = -1; }, "penalty_last_n");

    SamplingParams edges;
    edges.temperature = 0.0f;
    edges.top_p = 1.0f;
    edges.min_p = 0.0f;
    edges.top_k = 0;
    edges.penalty_last_n = 0;
    EXPECT_NO_THROW(edges.validate());
    EXPECT_THROW(Sampler(SamplingParams{}, 0), Error);
}

TEST(Sampler, RejectsBadLogitsAndTokens) {
    Sampler sampler(SamplingParams{}, 4);
    try {
        sampler.sample(std::vector<float>{0.0f, NAN, 1.0f, 2.0f});
        ADD_FAILURE() << "NaN accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("logits contain NaN"), std::string::npos) << e.what();
    }
    EXPECT_THROW(sampler.sample(std::vector<float>{0.0f, 1.0f}), Error);
    const float ninf = -std::numeric_limits<float>::infinity();
    EXPECT_THROW(sampler.sample(std::vector<float>{ninf, ninf, ninf, ninf}), Error);
    EXPECT_THROW(sampler.accept(4), Error);
    EXPECT_NO_THROW(sampler.accept(3));
}

// ---- StopMatcher -------------------------------------------------------------

struct Streamed {
    std::string text;
    bool stopped = false;
    std::optional<size_t> which;
};

Streamed stream(StopMatcher& m, const std::vector<std::string>& pieces) {
    Streamed s;
    for (const std::string& piece : pieces) {
        const auto r = m.push(piece);
        s.text += r.text;
        s.stopped = r.stopped;
        if (r.stopped) break;
    }
    if (!s.stopped) s.text += m.flush();
    s.which = m.matchedStop();
    return s;
}

bool validUtf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t j = 1; j < n; ++j) {
            if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

TEST(StopMatcher, PassesTextThroughWithoutStops) {
    StopMatcher m({});
    EXPECT_EQ(m.push("Hello").text, "Hello");
    EXPECT_EQ(m.push(", world").text, ", world");
    EXPECT_EQ(m.flush(), "");
    EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, StopSplitAcrossPieces) {
    StopMatcher m({"</s>"});
    EXPECT_EQ(m.push("Hello <").text, "Hello ");
    auto r = m.push("/");
    EXPECT_EQ(r.text, "");
    EXPECT_FALSE(r.stopped);
    r = m.push("s> ignored");
    EXPECT_EQ(r.text, "");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(m.matchedStop(), 0u);
    EXPECT_TRUE(m.push("more").stopped);
    EXPECT_EQ(m.push("more").text, "");
    EXPECT_EQ(m.flush(), "");

    StopMatcher n({"</s>"});
    EXPECT_EQ(n.push("a </").text, "a ");
    EXPECT_EQ(n.push("b>").text, "</b>") << "held text that is no stop is released";
}

TEST(StopMatcher, OverlappingPrefixes) {
    StopMatcher m({"aab"});
    EXPECT_EQ(m.push("a").text, "");
    EXPECT_EQ(m.push("a").text, "");
    EXPECT_EQ(m.push("a").text, "a") << "only the last two can still start \"aab\"";
    const auto r = m.push("b");
    EXPECT_TRUE(r.stopped);
    EXPECT_EQ(r.text, "");

    // "ab" and "aab" complete on the same byte: the longer wins, so nothing of it leaks.
    StopMatcher both({"ab", "aab"});
    EXPECT_EQ(stream(both, {"xa", "a", "b"}).text, "x");
    EXPECT_EQ(both.matchedStop(), 1u);
}

TEST(StopMatcher, MultipleStopsFirstToCompleteWins) {
    StopMatcher m({"bc", "abcd", "User:"});
    const auto s = stream(m, {"xabcd"});
    EXPECT_EQ(s.text, "xa");
    EXPECT_EQ(s.which, 0u);
    m.reset();
    EXPECT_FALSE(m.stopped());
    const auto t = stream(m, {"Sure.\nUs", "er: hi"});
    EXPECT_EQ(t.text, "Sure.\n");
    EXPECT_EQ(t.which, 2u);
}

TEST(StopMatcher, ResultDoesNotDependOnPieceBoundaries) {
    const std::vector<std::string> stops = {"ab", "aab", "b\xC3\xA9", "<|end|>"};
    for (const std::string text : {"xxaaab", "hello <|en <|end|> tail", "caf\xC3\xA9 b\xC3\xA9 z", "no stop <|e"}) {
        StopMatcher whole(stops);
        const auto expected = stream(whole, {text});
        for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
            for (size_t cut2 = cut1; cut2 <= text.size(); ++cut2) {
                StopMatcher m(stops);
                const auto got = stream(m, {text.substr(0, cut1), text.substr(cut1, cut2 - cut1), text.substr(cut2)});
                ASSERT_EQ(got.text, expected.text) << text << " cut at " << cut1 << ", " << cut2;
                ASSERT_EQ(got.which, expected.which) << text << " cut at " << cut1 << ", " << cut2;
            }
        }
    }
}

TEST(StopMatcher, Utf8PiecesAreNeverSplit) {
    // é (2 bytes), € (3), 😀 (4), fed one byte at a time.
    const std::string text = "caf\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80!";
    StopMatcher m({"\xE2\x82\xAC!"});
    std::string emitted;
    for (char byte : text) {
        const auto r = m.push(std::string_view(&byte, 1));
        EXPECT_TRUE(validUtf8(r.text)) << "emitted a split code point after " << emitted;
        emitted += r.text;
    }
    emitted += m.flush();
    EXPECT_EQ(emitted, text);

    StopMatcher euro({"\xE2\x82\xAC!"});
    const auto s = stream(euro, {"5 \xE2", "\x82", "\xAC", "! more"});
    EXPECT_EQ(s.text, "5 ");
    EXPECT_TRUE(s.stopped);
}

TEST(StopMatcher, FlushReturnsHeldText) {
    StopMatcher m({"###"});
    EXPECT_EQ(m.push("answer ##").text, "answer ");
    EXPECT_EQ(m.flush(), "##");
    EXPECT_EQ(m.flush(), "");

    StopMatcher cut({});
    EXPECT_EQ(cut.push("ok \xE2\x82").text, "ok ");
    EXPECT_EQ(cut.flush(), "\xE2\x82") << "the stream ended inside a code point: returned as is";
}

TEST(StopMatcher, RejectsEmptyStop) {
    try {
        StopMatcher m({"ok", ""});
        ADD_FAILURE() << "empty stop string accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
}

}  // namespace
}  // namespace vki
