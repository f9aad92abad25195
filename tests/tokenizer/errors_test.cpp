// Bad input gets a clear vki::Error, never a crash: truncated and garbage SentencePiece
// models, malformed tokenizer.json, inconsistent vocabularies, ids out of range.
#include <gtest/gtest.h>

#include <random>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "tokenizer/oracle.hpp"

namespace vki::model::test {
namespace {

using nlohmann::json;

std::span<const std::byte> asBytes(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

const std::string& modelBytes() {
    static const std::string bytes = readFile(VKI_TESTDATA_DIR "/llama2-tokenizer.model");
    return bytes;
}

// Runs `f`, which must throw vki::Error with `code`; returns the message.
template <typename F>
std::string expectError(F&& f, ErrorCode code) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no vki::Error thrown";
    return {};
}

TEST(SpmErrors, TruncatedModelAtManyOffsets) {
    const std::string& model = modelBytes();
    std::vector<size_t> cuts;
    for (size_t i = 0; i < 64; ++i) cuts.push_back(i);
    for (size_t i = 64; i < model.size(); i += 2503) cuts.push_back(i);
    for (size_t i = model.size() - 300; i < model.size(); ++i) cuts.push_back(i);  // inside the two specs
    for (const size_t cut : cuts) {
        SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(model.size()));
        expectError([&] { vocabFromSpmModel(asBytes(model.substr(0, cut))); }, ErrorCode::kBadFile);
    }
    EXPECT_NO_THROW(vocabFromSpmModel(asBytes(model)));
}

TEST(SpmErrors, GarbageModels) {
    std::mt19937 rng(1234);
    for (int round = 0; round < 200; ++round) {
        std::string garbage(rng() % 2048, '\0');
        for (char& c : garbage) c = static_cast<char>(rng());
        try {
            vocabFromSpmModel(asBytes(garbage));
            ADD_FAILURE() << "random bytes accepted as a model (round " << round << ")";
        } catch (const Error& e) {
            EXPECT_TRUE(e.code() == ErrorCode::kBadFile || e.code() == ErrorCode::kUnsupported) << e.what();
        }
    }
    expectError([] { vocabFromSpmModel({}); }, ErrorCode::kBadFile);
    expectError([] { vocabFromSpmModel(asBytes(std::string("\x0A\xFF\xFF\xFF\xFF\x0F", 6))); }, ErrorCode::kBadFile);
}

// Flipped bytes in a real model: either a model comes out (a changed score, say) or a
// vki::Error; whatever comes out must build a tokenizer or be refused, and encode.
TEST(SpmErrors, CorruptedModelsNeverCrash) {
    std::mt19937 rng(99);
    int refused = 0;
    for (int round = 0; round < 60; ++round) {
        std::string model = modelBytes();
        for (int k = 0; k < 4; ++k) model[rng() % model.size()] = static_cast<char>(rng());
        try {
            const Tokenizer tok(vocabFromSpmModel(asBytes(model)));
            const std::vector<int32_t> ids = tok.encode("Corrupt models must not crash. \xE6\xBC\xA2", true, true);
            tok.decode(ids);
        } catch (const Error& e) {
            ++refused;
            EXPECT_TRUE(e.code() == ErrorCode::kBadFile || e.code() == ErrorCode::kUnsupported) << e.what();
        }
    }
    std::cout << "[ errors   ] " << refused << "/60 corrupted models refused, the rest still tokenize\n";
}

TEST(SpmErrors, NonBpeModelsUnsupported) {
    // A minimal Unigram model: one piece, trainer_spec{model_type: UNIGRAM}, normalizer_spec{}.
    const std::string unigram("\x0A\x07\x0A\x05<unk>\x12\x02\x18\x01\x1A\x00", 15);
    const std::string message = expectError([&] { vocabFromSpmModel(asBytes(unigram)); }, ErrorCode::kUnsupported);
    EXPECT_NE(message.find("Unigram"), std::string::npos) << message;
}

const char* kMinimalBpe = R"json({
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
})json";

TEST(BpeErrors, MalformedTokenizerJson) {
    EXPECT_EQ(vocabFromHfTokenizer(kMinimalBpe, "").pre, "gpt-2");
    expectError([] { vocabFromHfTokenizer("", ""); }, ErrorCode::kBadFile);
    expectError([] { vocabFromHfTokenizer("{\"model\": ", ""); }, ErrorCode::kBadFile);
    expectError([] { vocabFromHfTokenizer("[1, 2]", ""); }, ErrorCode::kBadFile);
    expectError([] { vocabFromHfTokenizer("{}", ""); }, ErrorCode::kBadFile);
    expectError([] { vocabFromHfTokenizer(kMinimalBpe, "{not json"); }, ErrorCode::kBadFile);

    const json base = json::parse(kMinimalBpe);
    const auto with = [&](const char* pointer, json value) {
        json j = base;
        j[json::json_pointer(pointer)] = std::move(value);
        return j.dump();
    };
    std::string m =
        expectError([&] { vocabFromHfTokenizer(with("/model/type", "WordPiece"), ""); }, ErrorCode::kUnsupported);
    EXPECT_NE(m.find("WordPiece"), std::string::npos) << m;
    expectError([&] { vocabFromHfTokenizer(with("/model/type", "Unigram"), ""); }, ErrorCode::kUnsupported);
    expectError([&] { vocabFromHfTokenizer(with("/model/vocab", json::array()), ""); }, ErrorCode::kBadFile);
    expectError([&] { vocabFromHfTokenizer(with("/model/vocab/a", -5), ""); }, ErrorCode::kBadFile);
    expectError([&] { vocabFromHfTokenizer(with("/model/vocab/a", "zero"), ""); }, ErrorCode::kBadFile);
    expectError([&] { vocabFromHfTokenizer(with("/model/vocab/a", 1), ""); }, ErrorCode::kBadFile);  // id twice
    expectError([&] { vocabFromHfTokenizer(with("/model/vocab/a", 1 << 30), ""); }, ErrorCode::kBadFile);
    expectError([&] { vocabFromHfTokenizer(with("/model/merges", 7), ""); }, ErrorCode::kBadFile);
    expectError([&] { vocabFromHfTokenizer(with("/model/merges/0", json::array({1, 2})), ""); }, ErrorCode::kBadFile);
    expectError(
        [&] {
            vocabFromHfTokenizer(with("/added_tokens", json::array({{{"id", "x"}}})), "");
        },
        ErrorCode::kBadFile);
    // A pre-tokenizer no supported model uses: the message shows it and lists the known ones.
    m = expectError(
        [&] {
            vocabFromHfTokenizer(
                with(
                    "/pre_tokenizer",
                    {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}, {"invert", false}}),
                "");
        },
        ErrorCode::kUnsupported);
    EXPECT_NE(m.find("\\w+"), std::string::npos) << m;
    EXPECT_NE(m.find("llama-bpe"), std::string::npos) << m;
    expectError([&] { vocabFromHfTokenizer(with("/pre_tokenizer/add_prefix_space", true), ""); },
                ErrorCode::kUnsupported);
    expectError(
        [&] {
            vocabFromHfTokenizer(with("/normalizer", {{"type", "Lowercase"}}), "");
        },
        ErrorCode::kUnsupported);
    expectError([&] { vocabFromHfTokenizer(with("/pre_tokenizer", nullptr), ""); }, ErrorCode::kUnsupported);
    expectError([&] { vocabFromHfTokenizer(kMinimalBpe, R"json({"add_bos_token": true})json"); }, ErrorCode::kBadFile);
}

TEST(BpeErrors, TruncatedRealTokenizerJson) {
    const std::string why = packagesUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    const std::string text = readFile(npmModelFile("llama3", "tokenizer.json"));
    for (const size_t cut : {size_t{0}, size_t{1}, size_t{100}, text.size() / 3, text.size() - 2}) {
        expectError([&] { vocabFromHfTokenizer(text.substr(0, cut), ""); }, ErrorCode::kBadFile);
    }
}

Vocab tinySpm() {
    Vocab v;
    v.kind = TokenizerKind::kSpm;
    v.tokens = {"<unk>", "<s>", "</s>", "\u2581", "a", "\u2581a"};
    v.scores = {0, 0, 0, -1, -2, -3};
    v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl,
               TokenType::kNormal,  TokenType::kNormal,  TokenType::kNormal};
    v.unk_id = 0;
    v.bos_id = 1;
    v.eos_id = 2;
    v.add_bos = true;
    return v;
}

TEST(SpmErrors, InconsistentVocabularies) {
    EXPECT_NO_THROW(Tokenizer{tinySpm()});
    const auto refuse = [](auto mutate, ErrorCode code) {
        Vocab v = tinySpm();
        mutate(v);
        return expectError([&] { Tokenizer{std::move(v)}; }, code);
    };
    refuse([](Vocab& v) { v.tokens.clear(); }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.scores.pop_back(); }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.types.pop_back(); }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.types[3] = static_cast<TokenType>(9); }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.bos_id = 6; }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.eos_id = -2; }, ErrorCode::kBadFile);
    refuse([](Vocab& v) { v.bos_id = -1; }, ErrorCode::kBadFile);      // add_bos without a BOS
    refuse([](Vocab& v) { v.tokens[5] = "a"; }, ErrorCode::kBadFile);  // duplicate
    refuse([](Vocab& v) { v.kind = static_cast<TokenizerKind>(7); }, ErrorCode::kUnsupported);
}

TEST(BpeErrors, InconsistentVocabularies) {
    const auto refuse = [](auto mutate, ErrorCode code) {
        Vocab v = tinySpm();
        mutate(v);
        return expectError([&] { Tokenizer{std::move(v)}; }, code);
    };
    // Unknown pre-tokenizer (the message lists the known ones), malformed merges.
    const auto bpe = [](Vocab& v) {
        v.kind = TokenizerKind::kBpe;
        v.scores.clear();
        v.merges = {"a \u2581"};
    };
    const std::string m = refuse(
        [&](Vocab& v) {
            bpe(v);
            v.pre = "no-such-model";
        },
        ErrorCode::kUnsupported);
    EXPECT_NE(m.find("no-such-model"), std::string::npos) << m;
    EXPECT_NE(m.find("qwen2"), std::string::npos) << m;
    refuse(
        [&](Vocab& v) {
            bpe(v);
            v.merges = {"nospace"};
        },
        ErrorCode::kBadFile);
    refuse(
        [&](Vocab& v) {
            bpe(v);
            v.merges.clear();
        },
        ErrorCode::kBadFile);
}

TEST(SpmErrors, IdsOutOfRange) {
    const Tokenizer tok(tinySpm());
    expectError([&] { tok.decode(std::vector<int32_t>{4, 6}); }, ErrorCode::kInvalidArgument);
    expectError([&] { tok.decode(std::vector<int32_t>{-1}); }, ErrorCode::kInvalidArgument);
    expectError([&] { tok.piece(6); }, ErrorCode::kInvalidArgument);
    EXPECT_EQ(tok.piece(5), "\u2581a");
}

TEST(SpmErrors, UnencodableBytesUseUnknownOrFail) {
    // No byte pieces: characters outside the vocabulary become <unk> (runs fused into one).
    const Tokenizer tok(tinySpm());
    EXPECT_EQ(tok.encode("a zz a", false, false), (std::vector<int32_t>{5, 3, 0, 5}));
    Vocab v = tinySpm();
    v.unk_id = -1;
    const Tokenizer no_unk(std::move(v));
    expectError([&] { no_unk.encode("z", false, false); }, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace vki::model::test
