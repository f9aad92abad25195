// Tokenizer behaviour on small hand-made vocabularies and on the Llama 2 model file:
// merges, ignore_merges, special-token matching, dummy prefix, byte fallback, decode.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/unicode.hpp"
#include "tokenizer/oracle.hpp"

namespace vki::model::test {
namespace {

// A byte-level vocabulary: the 256 byte characters, then `extra` tokens.
struct TinyBpe {
    Vocab vocab;

    explicit TinyBpe(std::string pre = "gpt-2") {
        vocab.kind = TokenizerKind::kBpe;
        vocab.pre = std::move(pre);
        vocab.add_space_prefix = false;
        for (int b = 0; b < 256; ++b) add(std::string(detail::byteLevelChar(static_cast<uint8_t>(b))));
    }
    int32_t add(const std::string& text, TokenType type = TokenType::kNormal) {
        vocab.tokens.push_back(text);
        vocab.types.push_back(type);
        return static_cast<int32_t>(vocab.tokens.size() - 1);
    }
    int32_t byte(char c) const { return static_cast<uint8_t>(c); }  // the byte tokens come first
};

TEST(BpeTokenizer, MergesByRankLeftmostFirst) {
    TinyBpe t;
    const int32_t he = t.add("he");
    const int32_t ll = t.add("ll");
    const int32_t hell = t.add("hell");
    const int32_t hello = t.add("hello");
    const int32_t sp_w = t.add("\u0120w");  // byte-level " w"
    const int32_t sp_wo = t.add("\u0120wo");
    t.vocab.merges = {"h e", "l l", "he ll", "hell o", "\u0120 w", "\u0120w o"};
    const Tokenizer tok(t.vocab);
    EXPECT_EQ(tok.encode("hello", false, false), (std::vector<int32_t>{hello}));
    EXPECT_EQ(tok.encode("hell", false, false), (std::vector<int32_t>{hell}));
    EXPECT_EQ(tok.encode("lll", false, false), (std::vector<int32_t>{ll, t.byte('l')}));  // leftmost pair first
    EXPECT_EQ(tok.encode("he wo", false, false), (std::vector<int32_t>{he, sp_wo}));
    EXPECT_EQ(tok.encode(" w", false, false), (std::vector<int32_t>{sp_w}));
    EXPECT_EQ(tok.decode(tok.encode("hello wow", false, false)), "hello wow");
}

TEST(BpeTokenizer, MergeThroughTextMissingFromVocab) {
    // "x y" makes "xy", which is no token, but "xy z" still applies: merges chain on text.
    TinyBpe t;
    const int32_t xyz = t.add("xyz");
    t.vocab.merges = {"x y", "xy z"};
    const Tokenizer tok(t.vocab);
    EXPECT_EQ(tok.encode("xyz", false, false), (std::vector<int32_t>{xyz}));
    EXPECT_EQ(tok.encode("xy", false, false), (std::vector<int32_t>{t.byte('x'), t.byte('y')}));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWordsThatAreTokens) {
    for (const char* pre : {"gpt-2", "llama-bpe"}) {
        TinyBpe t(pre);
        const int32_t abc = t.add("abc");  // no merge makes it
        t.vocab.merges = {"a b"};
        const int32_t ab = t.add("ab");
        const Tokenizer tok(t.vocab);
        const std::vector<int32_t> expected =
            std::string(pre) == "llama-bpe" ? std::vector<int32_t>{abc} : std::vector<int32_t>{ab, t.byte('c')};
        EXPECT_EQ(tok.encode("abc", false, false), expected) << pre;
    }
}

TEST(BpeTokenizer, SpecialTokensLeftmostLongest) {
    TinyBpe t;
    t.vocab.merges = {"a b"};
    const int32_t eot = t.add("<|eot|>", TokenType::kControl);
    const int32_t eot_long = t.add("<|eot|><|x|>", TokenType::kControl);
    const int32_t tool = t.add("<tool>", TokenType::kUserDefined);
    const Tokenizer tok(t.vocab);
    EXPECT_EQ(tok.encode("<|eot|>", false, true), (std::vector<int32_t>{eot}));
    EXPECT_EQ(tok.encode("<|eot|><|x|>", false, true), (std::vector<int32_t>{eot_long}));
    EXPECT_EQ(tok.encode("<|eot|><|x|", false, true).front(), eot);
    // Without parse_special control texts are text; user-defined tokens are always matched.
    const std::vector<int32_t> plain = tok.encode("<|eot|>", false, false);
    EXPECT_GT(plain.size(), 1u);
    EXPECT_EQ(tok.decode(plain), "<|eot|>");
    EXPECT_EQ(tok.encode("a<tool>b", false, false), (std::vector<int32_t>{t.byte('a'), tool, t.byte('b')}));
    // Decoding: control text unless skipped.
    EXPECT_EQ(tok.decode(std::vector<int32_t>{eot, t.byte('a')}), "<|eot|>a");
    EXPECT_EQ(tok.decode(std::vector<int32_t>{eot, t.byte('a')}, true), "a");
}

TEST(BpeTokenizer, AddsBosAndEosWhenAsked) {
    TinyBpe t;
    t.vocab.merges = {"a b"};
    t.vocab.bos_id = t.add("<s>", TokenType::kControl);
    t.vocab.eos_id = t.add("</s>", TokenType::kControl);
    t.vocab.add_bos = true;
    t.vocab.add_eos = true;
    const Tokenizer tok(t.vocab);
    EXPECT_EQ(tok.encode("a", true, false), (std::vector<int32_t>{t.vocab.bos_id, t.byte('a'), t.vocab.eos_id}));
    EXPECT_EQ(tok.encode("a", false, false), (std::vector<int32_t>{t.byte('a')}));
    EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{t.vocab.bos_id, t.vocab.eos_id}));
}

TEST(BpeTokenizer, InvalidUtf8IsKeptByteForByte) {
    TinyBpe t;
    t.vocab.merges = {"a b"};
    const Tokenizer tok(t.vocab);
    const std::string bytes = std::string("a\xFF\xC3(b\xE2\x82", 7);
    const std::vector<int32_t> ids = tok.encode(bytes, false, false);
    EXPECT_EQ(tok.decode(ids), bytes);
}

// ---- SPM on the Llama 2 model

Tokenizer llama2() {
    const std::string bytes = readFile(VKI_TESTDATA_DIR "/llama2-tokenizer.model");
    return Tokenizer(vocabFromSpmModel(std::as_bytes(std::span(bytes.data(), bytes.size()))));
}

TEST(SpmTokenizer, DummyPrefixAndSpecialTokens) {
    const Tokenizer tok = llama2();
    const std::vector<int32_t> hello = tok.encode("Hello", false, false);
    ASSERT_EQ(hello.size(), 1u);
    EXPECT_EQ(tok.piece(hello[0]), "\u2581Hello");
    EXPECT_EQ(tok.decode(hello), "Hello");
    EXPECT_EQ(tok.encode("Hello", true, false), (std::vector<int32_t>{1, hello[0]}));
    EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{1}));
    EXPECT_TRUE(tok.encode("", false, false).empty());

    // After a special token the text gets the dummy prefix again (llama.cpp, HF legacy).
    const std::vector<int32_t> parsed = tok.encode("Hello</s>Hello", false, true);
    EXPECT_EQ(parsed, (std::vector<int32_t>{hello[0], 2, hello[0]}));
    const std::vector<int32_t> plain = tok.encode("Hello</s>Hello", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
    EXPECT_EQ(tok.decode(plain), "Hello</s>Hello");
    EXPECT_EQ(tok.decode(parsed), "Hello</s> Hello");
    EXPECT_EQ(tok.decode(parsed, true), "Hello Hello");
    // The prefix space is removed from the start of the output only.
    EXPECT_EQ(tok.decode(std::vector<int32_t>{1, hello[0]}), "<s> Hello");
    EXPECT_EQ(tok.decode(std::vector<int32_t>{1, hello[0]}, true), "Hello");
}

TEST(SpmTokenizer, ByteFallbackForMissingCharacters) {
    const Tokenizer tok = llama2();
    const std::vector<int32_t> ids = tok.encode("\xF0\x9F\x98\x80", false, false);  // U+1F600, not a piece
    ASSERT_EQ(ids.size(), 5u);
    EXPECT_EQ(tok.piece(ids[0]), "\u2581");
    EXPECT_EQ(ids[1], 3 + 0xF0);
    EXPECT_EQ(ids[4], 3 + 0x80);
    EXPECT_EQ(tok.decode(ids), "\xF0\x9F\x98\x80");
}

TEST(SpmTokenizer, EscapeCharacterInTextDecodesAsSpace) {
    // SentencePiece's whitespace escape U+2581 is indistinguishable from an escaped space,
    // so it is the one text that does not round-trip (as with SentencePiece itself).
    const Tokenizer tok = llama2();
    EXPECT_EQ(tok.encode("a\u2581b", false, false), tok.encode("a b", false, false));
    EXPECT_EQ(tok.decode(tok.encode("a\u2581b", false, false)), "a b");
}

TEST(SpmTokenizer, PieceAndSize) {
    const Tokenizer tok = llama2();
    EXPECT_EQ(tok.size(), 32000);
    EXPECT_EQ(tok.piece(0), "<unk>");
    EXPECT_EQ(tok.piece(31999), tok.vocab().tokens[31999]);
    EXPECT_EQ(tok.vocab().tokens.size(), 32000u);
}

TEST(SpmTokenizer, TokenizerIsMovable) {
    Tokenizer a = llama2();
    const std::vector<int32_t> before = a.encode("move me", true, true);
    Tokenizer b = std::move(a);
    EXPECT_EQ(b.encode("move me", true, true), before);
    Tokenizer::Stream s = b.stream();
    std::string text;
    for (int32_t id : before) text += s.push(id);
    EXPECT_EQ(text + s.flush(), "<s> move me");
}

}  // namespace
}  // namespace vki::model::test
