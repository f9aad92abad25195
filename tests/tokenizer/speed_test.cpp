// Long inputs encode in reasonable time (reported, not asserted: machines differ) and
// round-trip: ~100k-character prompts, and degenerate single-word inputs that make one
// huge symbol list.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "model/tokenizer/tokenizer.hpp"
#include "tokenizer/oracle.hpp"

namespace vki::model::test {
namespace {

std::string longPrompt(size_t min_bytes) {
    std::string text;
    while (text.size() < min_bytes) {
        for (const CorpusEntry& e : corpus()) text += e.text + "\n";
    }
    return text;
}

void timeEncode(const Tokenizer& tok, const std::string& label, const std::string& text) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tok.encode(text, true, true);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ speed    ] " << label << ": " << text.size() << " bytes -> " << ids.size() << " tokens in " << ms
              << " ms\n";
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok.decode(tok.encode(text, false, false)), text);
}

void timeAll(const Tokenizer& tok, const std::string& name) {
    timeEncode(tok, name + " mixed corpus", longPrompt(100000));
    timeEncode(tok, name + " one letter", std::string(100000, 'a'));
    timeEncode(tok, name + " spaces", std::string(100000, ' '));
    timeEncode(tok, name + " digits", std::string(100000, '7'));
    std::string cjk;
    while (cjk.size() < 100000) cjk += "\xE6\xBC\xA2\xE5\xAD\x97";
    timeEncode(tok, name + " CJK", cjk);
}

TEST(SpmSpeed, LongInputs) {
    const std::string bytes = readFile(VKI_TESTDATA_DIR "/llama2-tokenizer.model");
    timeAll(Tokenizer(vocabFromSpmModel(std::as_bytes(std::span(bytes.data(), bytes.size())))), "llama2 SPM");
}

TEST(BpeSpeed, LongInputs) {
    const std::string why = packagesUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    const auto start = std::chrono::steady_clock::now();
    const Tokenizer tok(vocabFromHfTokenizer(readFile(npmModelFile("llama3", "tokenizer.json")),
                                             readFile(npmModelFile("llama3", "tokenizer_config.json"))));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ speed    ] llama3 tokenizer.json import + tables: " << ms << " ms\n";
    timeAll(tok, "llama3 BPE");
}

}  // namespace
}  // namespace vki::model::test
