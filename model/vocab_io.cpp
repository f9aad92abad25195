#include "model/vocab_io.hpp"

#include <fstream>
#include <sstream>

#include "common/error.hpp"

namespace vki::model {

namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
constexpr const char* kChatTemplate = "tokenizer.chat_template";

[[noreturn]] void bad(const GgufFile& f, const std::string& what) {
    throw Error(ErrorCode::kBadFile, "GGUF " + f.name() + ": " + what);
}

int32_t tokenId(const GgufFile& f, const char* key, size_t n_tokens) {
    if (!f.find(key)) return -1;
    const int64_t id = f.getInt(key);
    if (id < 0 || static_cast<uint64_t>(id) >= n_tokens)
        bad(f, std::string(key) + " = " + std::to_string(id) + " is not a token id (vocab of " +
                   std::to_string(n_tokens) + ")");
    return static_cast<int32_t>(id);
}

}  // namespace

Vocab readVocab(const GgufFile& f) {
    if (!f.find(kModel)) bad(f, "has no tokenizer (tokenizer.ggml.model is missing)");
    Vocab v;
    const std::string model = f.getString(kModel);
    if (model == "llama") {
        v.kind = TokenizerKind::kSpm;
    } else if (model == "gpt2") {
        v.kind = TokenizerKind::kBpe;
    } else {
        throw Error(ErrorCode::kUnsupported,
                    "GGUF " + f.name() + ": tokenizer model \"" + model + "\" is not supported (llama, gpt2 are)");
    }
    v.pre = f.getStringOr(kPre, "default");

    const GgufArray& tokens = f.getArray(kTokens);
    if (tokens.element_type != GgufType::kString) bad(f, std::string(kTokens) + " is not an array of strings");
    if (tokens.strings.empty()) bad(f, std::string(kTokens) + " is empty");
    v.tokens = tokens.strings;
    const size_t n = v.tokens.size();

    if (f.find(kScores)) {
        const GgufArray& scores = f.getArray(kScores);
        if (scores.size() != n)
            bad(f, std::string(kScores) + " has " + std::to_string(scores.size()) + " entries for " +
                       std::to_string(n) + " tokens");
        v.scores.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
            const auto s = scores.floatAt(i);
            if (!s) bad(f, std::string(kScores) + " is not numeric");
            v.scores.push_back(static_cast<float>(*s));
        }
    }
    if (f.find(kTypes)) {
        const GgufArray& types = f.getArray(kTypes);
        if (types.size() != n)
            bad(f, std::string(kTypes) + " has " + std::to_string(types.size()) + " entries for " + std::to_string(n) +
                       " tokens");
        v.types.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
            const auto t = types.intAt(i);
            if (!t || *t < 0 || *t > static_cast<int64_t>(TokenType::kByte))
                bad(f, std::string(kTypes) + "[" + std::to_string(i) + "] is not a token type");
            v.types.push_back(static_cast<TokenType>(*t));
        }
    }
    if (f.find(kMerges)) {
        const GgufArray& merges = f.getArray(kMerges);
        if (merges.element_type != GgufType::kString) bad(f, std::string(kMerges) + " is not an array of strings");
        v.merges = merges.strings;
    }
    v.bos_id = tokenId(f, kBos, n);
    v.eos_id = tokenId(f, kEos, n);
    v.unk_id = tokenId(f, kUnk, n);
    v.pad_id = tokenId(f, kPad, n);
    v.add_bos = f.getBoolOr(kAddBos, defaultAddBos(v.kind, v.pre));
    v.add_eos = f.getBoolOr(kAddEos, false);
    v.add_space_prefix = f.getBoolOr(kAddSpacePrefix, v.kind == TokenizerKind::kSpm);
    v.chat_template = f.getStringOr(kChatTemplate, "");
    return v;
}

void writeVocab(GgufWriter& w, const Vocab& v) {
    w.set(kModel, GgufValue::string(v.kind == TokenizerKind::kSpm ? "llama" : "gpt2"));
    w.set(kPre, GgufValue::string(v.pre));
    w.set(kTokens, GgufValue::stringArray(v.tokens));
    if (!v.scores.empty()) w.set(kScores, GgufValue::f32Array(v.scores));
    if (!v.types.empty()) {
        std::vector<int32_t> types(v.types.size());
        for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<int32_t>(v.types[i]);
        w.set(kTypes, GgufValue::i32Array(types));
    }
    if (!v.merges.empty()) w.set(kMerges, GgufValue::stringArray(v.merges));
    if (v.bos_id >= 0) w.set(kBos, GgufValue::u32(static_cast<uint32_t>(v.bos_id)));
    if (v.eos_id >= 0) w.set(kEos, GgufValue::u32(static_cast<uint32_t>(v.eos_id)));
    if (v.unk_id >= 0) w.set(kUnk, GgufValue::u32(static_cast<uint32_t>(v.unk_id)));
    if (v.pad_id >= 0) w.set(kPad, GgufValue::u32(static_cast<uint32_t>(v.pad_id)));
    w.set(kAddBos, GgufValue::boolean(v.add_bos));
    w.set(kAddEos, GgufValue::boolean(v.add_eos));
    w.set(kAddSpacePrefix, GgufValue::boolean(v.add_space_prefix));
    if (!v.chat_template.empty()) w.set(kChatTemplate, GgufValue::string(v.chat_template));
}

namespace {

std::string readText(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kIo, "cannot read " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

Vocab loadVocab(const std::filesystem::path& source) {
    namespace fs = std::filesystem;
    if (fs::is_directory(source)) {
        if (fs::exists(source / "tokenizer.json")) return loadVocab(source / "tokenizer.json");
        if (fs::exists(source / "tokenizer.model")) return loadVocab(source / "tokenizer.model");
        throw Error(ErrorCode::kIo, source.string() + " holds neither tokenizer.json nor tokenizer.model");
    }
    if (!fs::exists(source)) throw Error(ErrorCode::kIo, "tokenizer source " + source.string() + " does not exist");
    if (source.extension() == ".gguf") return readVocab(GgufFile::open(source));
    if (source.extension() == ".json") {
        const fs::path config = source.parent_path() / "tokenizer_config.json";
        return vocabFromHfTokenizer(readText(source), fs::exists(config) ? readText(config) : std::string());
    }
    const std::string bytes = readText(source);
    return vocabFromSpmModel(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

}  // namespace vki::model
