// The streaming detokenizer: whole UTF-8 characters only, held-back partial characters,
// U+FFFD for bytes that cannot form one, and the same text as decode().
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/unicode.hpp"
#include "tokenizer/oracle.hpp"

namespace vki::model::test {
namespace {

bool isValidUtf8(const std::string& s) {
    for (size_t pos = 0; pos < s.size();) {
        const detail::Utf8Scan scan = detail::scanUtf8(s, pos);
        if (scan.status != detail::Utf8Scan::kComplete) return false;
        pos += scan.length;
    }
    return true;
}

const Tokenizer& llama2() {
    static const Tokenizer tok = [] {
        const std::string bytes = readFile(VKI_TESTDATA_DIR "/llama2-tokenizer.model");
        return Tokenizer(vocabFromSpmModel(std::as_bytes(std::span(bytes.data(), bytes.size()))));
    }();
    return tok;
}

int32_t byteToken(uint8_t b) {
    return 3 + b;
}  // <0x00> is id 3 in the Llama 2 model

// Pushes every id; every piece must be valid UTF-8. Returns the concatenation with flush().
std::string streamAll(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip_special = false) {
    Tokenizer::Stream stream = tok.stream(skip_special);
    std::string text;
    for (int32_t id : ids) {
        const std::string piece = stream.push(id);
        EXPECT_TRUE(isValidUtf8(piece)) << "partial UTF-8 emitted after id " << id;
        text += piece;
    }
    const std::string rest = stream.flush();
    EXPECT_TRUE(isValidUtf8(rest));
    return text + rest;
}

TEST(SpmStream, MatchesDecodeOnCorpus) {
    const Tokenizer& tok = llama2();
    for (const CorpusEntry& e : corpus()) {
        if (!isValidUtf8(e.text)) continue;
        const std::vector<int32_t> ids = tok.encode(e.text, true, true);
        EXPECT_EQ(streamAll(tok, ids), tok.decode(ids)) << e.name;
        EXPECT_EQ(streamAll(tok, ids, true), tok.decode(ids, true)) << e.name;
    }
}

TEST(SpmStream, HoldsBackCharactersSplitAcrossByteTokens) {
    const Tokenizer& tok = llama2();
    // "a😀b": the emoji is no piece, so it arrives as four byte tokens.
    const std::vector<int32_t> ids = tok.encode("a\xF0\x9F\x98\x80 b", false, false);
    Tokenizer::Stream stream = tok.stream();
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(stream.push(id));
    ASSERT_GE(pieces.size(), 6u);
    EXPECT_EQ(pieces[0], "a");
    EXPECT_EQ(pieces[1], "");
    EXPECT_EQ(pieces[2], "");
    EXPECT_EQ(pieces[3], "");
    EXPECT_EQ(pieces[4], "\xF0\x9F\x98\x80");
    EXPECT_EQ(stream.flush(), "");
}

TEST(SpmStream, EveryWayOfSplittingMultibyteCharacters) {
    const Tokenizer& tok = llama2();
    // Characters of 2, 3 and 4 bytes sent as byte tokens one by one, between normal tokens.
    for (const std::string ch : {"\xC3\xA9", "\xE6\xBC\xA2", "\xF0\x9F\x8D\x95"}) {
        std::vector<int32_t> ids = tok.encode("x", false, false);
        for (char c : ch) ids.push_back(byteToken(static_cast<uint8_t>(c)));
        const std::vector<int32_t> tail = tok.encode("y", false, false);
        ids.insert(ids.end(), tail.begin(), tail.end());
        EXPECT_EQ(streamAll(tok, ids), tok.decode(ids));
        EXPECT_EQ(tok.decode(ids), "x" + ch + " y");
    }
}

TEST(SpmStream, InvalidBytesBecomeReplacementCharacters) {
    const Tokenizer& tok = llama2();
    Tokenizer::Stream stream = tok.stream();
    EXPECT_EQ(stream.push(byteToken(0xE4)), "");  // could still become a character
    EXPECT_EQ(stream.push(byteToken('A')),
              "\xEF\xBF\xBD"
              "A");
    EXPECT_EQ(stream.push(byteToken(0xFF)), "\xEF\xBF\xBD");  // never valid
    EXPECT_EQ(stream.push(byteToken(0xF0)), "");
    EXPECT_EQ(stream.push(byteToken(0x9F)), "");
    EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");  // an unfinished character at the end
    EXPECT_EQ(stream.flush(), "");
}

TEST(SpmStream, SkipsSpecialTokensAndTheDummyPrefixSpace) {
    const Tokenizer& tok = llama2();
    const std::vector<int32_t> ids = tok.encode("Hello world", true, false);
    ASSERT_EQ(ids.front(), 1);
    EXPECT_EQ(streamAll(tok, ids, true), "Hello world");
    EXPECT_EQ(streamAll(tok, ids, false), "<s> Hello world");
}

TEST(SpmStream, RejectsIdsOutOfRange) {
    Tokenizer::Stream stream = llama2().stream();
    EXPECT_THROW(stream.push(32000), Error);
    EXPECT_THROW(stream.push(-1), Error);
}

// Byte-level BPE: a character arrives as tokens of its bytes' byte-level characters.
TEST(BpeStream, HoldsBackCharactersSplitAcrossTokens) {
    Vocab v;
    v.kind = TokenizerKind::kBpe;
    v.pre = "gpt-2";
    for (int b = 0; b < 256; ++b) v.tokens.emplace_back(detail::byteLevelChar(static_cast<uint8_t>(b)));
    v.tokens.push_back(std::string(detail::byteLevelChar(0xE6)) + std::string(detail::byteLevelChar(0xBC)));
    v.merges = {v.tokens[0xE6] + " " + v.tokens[0xBC]};
    const Tokenizer tok(v);
    const std::string han = "\xE6\xBC\xA2";  // U+6F22: two tokens, the first two bytes merged
    const std::vector<int32_t> ids = tok.encode("a" + han + "b", false, false);
    ASSERT_EQ(ids, (std::vector<int32_t>{'a', 256, 0xA2, 'b'}));
    Tokenizer::Stream stream = tok.stream();
    EXPECT_EQ(stream.push(ids[0]), "a");
    EXPECT_EQ(stream.push(ids[1]), "");
    EXPECT_EQ(stream.push(ids[2]), han);
    EXPECT_EQ(stream.push(ids[3]), "b");
    EXPECT_EQ(streamAll(tok, ids), tok.decode(ids));
}

}  // namespace
}  // namespace vki::model::test
