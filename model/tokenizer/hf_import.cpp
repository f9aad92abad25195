// Hugging Face tokenizer.json (+ tokenizer_config.json) -> Vocab, deciding kind, pre-tokenizer,
// token types and special tokens the way llama.cpp's convert_hf_to_gguf.py and gguf-py's
// SpecialVocab do, so that a model converted here tokenizes like one converted there.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "common/error.hpp"
#include "model/tokenizer/unicode.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model {

namespace {

using nlohmann::json;

[[noreturn]] void badJson(const std::string& what) {
    throw Error(ErrorCode::kBadFile, "tokenizer.json: " + what);
}

[[noreturn]] void unsupported(const std::string& what) {
    throw Error(ErrorCode::kUnsupported, "tokenizer.json: " + what);
}

json parseJson(std::string_view text, const char* name) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw Error(ErrorCode::kBadFile, std::string(name) + ": not valid JSON");
    if (!j.is_object()) throw Error(ErrorCode::kBadFile, std::string(name) + ": top level is not an object");
    return j;
}

std::string stringOr(const json& j, const char* key, std::string fallback = {}) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool boolOr(const json& j, const char* key, bool fallback) {
    const auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// The pre-tokenizer pipelines of the supported models, one string per stage, as
// describePreTokenizer writes them. Regexes are the tokenizer.json originals.
constexpr const char* kGpt2Stage = "ByteLevel+regex";
constexpr const char* kByteLevelStage = "ByteLevel";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's stages, in UTF-8 as its tokenizer.json has them.
constexpr const char* kDeepseekLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
    "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
    "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
    "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
    "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr const char* kDeepseekPunct = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
constexpr const char* kDeepseekCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

struct KnownPipeline {
    const char* pre;
    std::vector<std::string> stages;
};

const std::vector<KnownPipeline>& knownPipelines() {
    const auto split = [](const char* regex) { return std::string("Split:") + regex; };
    static const std::vector<KnownPipeline> known = {
        {"gpt-2", {kGpt2Stage}},
        {"llama-bpe", {split(kLlama3Regex), kByteLevelStage}},
        {"qwen2", {split(kQwen2Regex), kByteLevelStage}},
        {"starcoder", {"Digits:individual", kGpt2Stage}},
        {"falcon", {"Punctuation:Contiguous", kGpt2Stage, "Digits", split("[0-9][0-9][0-9]")}},
        {"deepseek-llm",
         {split("[\\r\\n]"), split(kDeepseekLetters), split(kDeepseekPunct), split("\\s+$"), split(kDeepseekCjk),
          split("\\p{N}+"), kByteLevelStage}},
        {"tekken", {split(kTekkenRegex), kByteLevelStage}},
        {"gpt-4o", {split(kGpt4oRegex), kByteLevelStage}},
    };
    return known;
}

// One line per pre-tokenizer stage ("Split:<regex>", "ByteLevel+regex", ...), Sequences
// flattened. Metaspace is reported for the SPM path to inspect.
void describePreTokenizer(const json& pre, std::vector<std::string>& out) {
    if (pre.is_null()) return;
    if (!pre.is_object()) badJson("pre_tokenizer is not an object");
    const std::string type = stringOr(pre, "type");
    if (type == "Sequence") {
        const auto it = pre.find("pretokenizers");
        if (it == pre.end() || !it->is_array()) badJson("pre_tokenizer Sequence without a pretokenizers list");
        for (const json& stage : *it) describePreTokenizer(stage, out);
    } else if (type == "ByteLevel") {
        if (boolOr(pre, "add_prefix_space", true)) {
            unsupported("ByteLevel pre-tokenizer with add_prefix_space (a space before the text) is not supported");
        }
        out.push_back(boolOr(pre, "use_regex", true) ? kGpt2Stage : kByteLevelStage);
    } else if (type == "Split") {
        const json& pattern = pre.value("pattern", json::object());
        std::string regex = stringOr(pattern, "Regex");
        if (regex.empty()) unsupported("Split pre-tokenizer without a Regex pattern: " + pre.dump());
        if (stringOr(pre, "behavior") != "Isolated" || boolOr(pre, "invert", false)) {
            unsupported("Split pre-tokenizer with behavior '" + stringOr(pre, "behavior") + "' is not supported");
        }
        // Some files spell [\r\n] with the control characters themselves.
        std::string spelled;
        for (char c : regex) spelled += c == '\r' ? "\\r" : c == '\n' ? "\\n" : std::string(1, c);
        out.push_back("Split:" + spelled);
    } else if (type == "Digits") {
        out.push_back(boolOr(pre, "individual_digits", false) ? "Digits:individual" : "Digits");
    } else if (type == "Punctuation") {
        out.push_back("Punctuation:" + stringOr(pre, "behavior", "Isolated"));
    } else {
        out.push_back(type.empty() ? pre.dump() : type);
    }
}

// The first stage of type `type` in a (possibly nested) pre-tokenizer, or null.
const json* findStage(const json& pre, std::string_view type) {
    if (!pre.is_object()) return nullptr;
    if (stringOr(pre, "type") == type) return &pre;
    const auto it = pre.find("pretokenizers");
    if (it == pre.end() || !it->is_array()) return nullptr;
    for (const json& stage : *it) {
        if (const json* found = findStage(stage, type)) return found;
    }
    return nullptr;
}

std::string joinStages(const std::vector<std::string>& stages) {
    std::string out;
    for (const std::string& s : stages) out += (out.empty() ? "" : " -> ") + s;
    return out.empty() ? "none" : out;
}

struct AddedToken {
    int32_t id;
    std::string content;
    bool special;
};

// gguf-py's does_token_look_special: added tokens some models forget to mark special.
bool looksSpecial(const std::string& t) {
    const auto wrapped = [&](std::string_view open, std::string_view close) {
        return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
    };
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
           wrapped("<\uFF5C", "\uFF5C>") || wrapped("<unused", ">");
}

// A special token named in tokenizer_config.json ("<s>" or {"content": "<s>", ...}).
std::string configToken(const json& config, const char* key) {
    const auto it = config.find(key);
    if (it == config.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) return stringOr(*it, "content");
    return {};
}

struct Tables {
    std::vector<std::string> tokens;
    std::vector<bool> present;
    std::unordered_map<std::string, int32_t> ids;
    std::vector<AddedToken> added;
};

Tables readTokens(const json& tok, const json& model) {
    Tables t;
    const auto vocab_it = model.find("vocab");
    if (vocab_it == model.end() || !vocab_it->is_object()) badJson("model.vocab is missing or not an object");
    const auto added_it = tok.find("added_tokens");
    if (added_it != tok.end() && !added_it->is_null() && !added_it->is_array()) badJson("added_tokens is not a list");
    if (added_it != tok.end() && added_it->is_array()) {
        for (const json& a : *added_it) {
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
                !a["content"].is_string()) {
                badJson("an added_tokens entry lacks an integer id or a content string");
            }
            t.added.push_back({a["id"].get<int32_t>(), a["content"].get<std::string>(), boolOr(a, "special", false)});
        }
    }
    int64_t max_id = -1;
    const auto checkId = [&](const json& id, const std::string& text) {
        if (!id.is_number_integer()) badJson("the id of token '" + text + "' is not an integer");
        const int64_t value = id.get<int64_t>();
        // Ids are dense in every real file; a far larger one means a corrupt file.
        const auto limit = static_cast<int64_t>(vocab_it->size() + t.added.size()) * 2 + 1024;
        if (value < 0 || value > limit) badJson("token '" + text + "' has id " + std::to_string(value));
        max_id = std::max(max_id, value);
    };
    for (const auto& [text, id] : vocab_it->items()) checkId(id, text);
    for (const AddedToken& a : t.added) checkId(json(a.id), a.content);
    if (max_id < 0) badJson("model.vocab is empty");

    t.tokens.resize(static_cast<size_t>(max_id) + 1);
    t.present.resize(t.tokens.size());
    for (const auto& [text, id] : vocab_it->items()) {
        const auto i = id.get<size_t>();
        if (t.present[i]) badJson("id " + std::to_string(i) + " is given to two tokens");
        t.tokens[i] = text;
        t.present[i] = true;
    }
    for (const AddedToken& a : t.added) {
        t.tokens[a.id] = a.content;  // an added token replaces what the model has at its id
        t.present[a.id] = true;
    }
    for (size_t i = 0; i < t.tokens.size(); ++i) {
        if (!t.present[i]) t.tokens[i] = "[PAD" + std::to_string(i) + "]";  // as the converter fills gaps
        t.ids.emplace(t.tokens[i], static_cast<int32_t>(i));
    }
    return t;
}

std::vector<std::string> readMerges(const json& model) {
    std::vector<std::string> merges;
    const auto it = model.find("merges");
    if (it == model.end() || !it->is_array()) badJson("model.merges is missing or not a list");
    merges.reserve(it->size());
    for (const json& m : *it) {
        if (m.is_string()) {
            merges.push_back(m.get<std::string>());
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        } else {
            badJson("model.merges entry " + std::to_string(merges.size()) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
    }
    return merges;
}

// SentencePiece scores from Hugging Face merges: the converter that wrote the merges
// ordered them by the score of the merged piece, so -rank of the first merge making a
// piece orders pieces as their scores did. Pieces no merge makes keep 0: the SPM merge
// loop only ever looks up merged pieces.
std::vector<float> scoresFromMerges(const Tables& t, const std::vector<std::string>& merges) {
    std::vector<float> scores(t.tokens.size(), 0.0f);
    std::vector<bool> scored(t.tokens.size(), false);
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const size_t space = merges[rank].find(' ', 1);
        if (space == std::string::npos) badJson("merge " + std::to_string(rank) + " is not \"left right\"");
        joined.assign(merges[rank], 0, space).append(merges[rank], space + 1);
        const auto it = t.ids.find(joined);
        if (it == t.ids.end() || scored[it->second]) continue;
        scored[it->second] = true;
        scores[it->second] = -static_cast<float>(rank);
    }
    return scores;
}

// The SPM path accepts the normalizers SentencePiece-converted tokenizers use: Prepend
// and Replace(" " -> U+2581). Returns whether a Prepend adds the dummy prefix.
bool checkSpmNormalizer(const json& normalizer) {
    if (normalizer.is_null()) return false;
    const std::string type = stringOr(normalizer, "type");
    if (type == "Sequence") {
        bool prepend = false;
        for (const json& n : normalizer.value("normalizers", json::array())) prepend = checkSpmNormalizer(n) || prepend;
        return prepend;
    }
    if (type == "Prepend") return stringOr(normalizer, "prepend") == "\u2581";
    if (type == "Replace" && stringOr(normalizer, "content") == "\u2581") return false;
    unsupported("normalizer '" + normalizer.dump() + "' is not supported for SentencePiece-style BPE");
}

void checkBpeNormalizer(const json& normalizer) {
    if (normalizer.is_null()) return;
    // NFC is left out, as llama.cpp does: text is expected to be NFC already.
    const std::string type = stringOr(normalizer, "type");
    if (type == "NFC") return;
    if (type == "Sequence" && normalizer.value("normalizers", json::array()).empty()) return;
    unsupported("normalizer '" + normalizer.dump() + "' is not supported for byte-level BPE");
}

// add_bos / add_eos and the BOS/EOS texts a post-processor implies (gguf-py SpecialVocab).
struct PostProcessing {
    int add_bos = -1;  // -1: the post-processor does not say
    int add_eos = -1;
    std::string first;
    std::string last;
};

PostProcessing readPostProcessor(const json& post) {
    PostProcessing p;
    if (!post.is_object()) return p;
    std::vector<json> processors;
    if (stringOr(post, "type") == "Sequence") {
        for (const json& q : post.value("processors", json::array())) processors.push_back(q);
    } else {
        processors.push_back(post);
    }
    for (const json& q : processors) {
        const std::string type = stringOr(q, "type");
        if (type == "RobertaProcessing" || type == "BertProcessing") {
            p.add_bos = p.add_eos = 1;
            return p;
        }
        if (type != "TemplateProcessing") continue;
        const json single = q.value("single", json::array());
        if (single.size() > 1) {
            const auto specialId = [](const json& item) {
                return item.is_object() && item.contains("SpecialToken") ? stringOr(item["SpecialToken"], "id") : "";
            };
            p.first = specialId(single.front());
            p.last = specialId(single.back());
            p.add_bos = !p.first.empty();
            p.add_eos = !p.last.empty();
        }
        return p;
    }
    return p;
}

}  // namespace

Vocab vocabFromHfTokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
    const json tok = parseJson(tokenizer_json, "tokenizer.json");
    const json config =
        tokenizer_config_json.empty() ? json::object() : parseJson(tokenizer_config_json, "tokenizer_config.json");
    try {
        const auto model_it = tok.find("model");
        if (model_it == tok.end() || !model_it->is_object()) badJson("no model section");
        const json& model = *model_it;
        const std::string model_type = stringOr(model, "type", model.contains("merges") ? "BPE" : "");
        if (model_type != "BPE") {
            unsupported("model type '" + model_type +
                        "' is not supported; only BPE (SentencePiece-style with "
                        "byte_fallback, or byte-level)");
        }

        Vocab v;
        std::vector<std::string> stages;
        describePreTokenizer(tok.value("pre_tokenizer", json()), stages);
        const std::vector<std::string> merges = readMerges(model);
        Tables t = readTokens(tok, model);
        const std::string unk_text = stringOr(model, "unk_token");

        if (boolOr(model, "byte_fallback", false)) {
            v.kind = TokenizerKind::kSpm;
            bool prepend = checkSpmNormalizer(tok.value("normalizer", json()));
            for (const std::string& stage : stages) {
                if (stage != "Metaspace") unsupported("pre-tokenizer stage '" + stage + "' with byte_fallback BPE");
            }
            if (const json* meta = findStage(tok.value("pre_tokenizer", json()), "Metaspace")) {
                // Metaspace replaces spaces itself and prepends unless told "never".
                const bool legacy_prefix = boolOr(*meta, "add_prefix_space", true);
                prepend = stringOr(*meta, "prepend_scheme", legacy_prefix ? "always" : "never") != "never";
            }
            v.add_space_prefix = prepend;
            v.scores = scoresFromMerges(t, merges);
        } else {
            v.kind = TokenizerKind::kBpe;
            v.add_space_prefix = false;
            checkBpeNormalizer(tok.value("normalizer", json()));
            for (const KnownPipeline& known : knownPipelines()) {
                if (known.stages == stages) v.pre = known.pre;
            }
            if (v.pre == "default") {
                std::string names;
                for (const KnownPipeline& known : knownPipelines())
                    names += (names.empty() ? "" : ", ") + std::string(known.pre);
                unsupported("pre-tokenizer [" + joinStages(stages) + "] matches no supported model (" + names + ")");
            }
            v.merges = merges;
        }

        // Token types, as the converter assigns them.
        std::vector<bool> added(t.tokens.size(), false);
        std::vector<bool> added_special(t.tokens.size(), false);
        for (const AddedToken& a : t.added) {
            added[a.id] = true;
            added_special[a.id] = a.special || looksSpecial(a.content);
        }
        v.types.resize(t.tokens.size(), TokenType::kNormal);
        for (size_t i = 0; i < t.tokens.size(); ++i) {
            if (!t.present[i]) {
                v.types[i] = TokenType::kUnused;
            } else if (!unk_text.empty() && t.tokens[i] == unk_text) {
                v.types[i] = TokenType::kUnknown;
            } else if (added[i]) {
                v.types[i] = added_special[i] ? TokenType::kControl : TokenType::kUserDefined;
            } else if (v.kind == TokenizerKind::kSpm && detail::parseByteToken(t.tokens[i]) >= 0) {
                v.types[i] = TokenType::kByte;
            }
        }

        const auto idOf = [&](const std::string& text) {
            if (text.empty()) return -1;
            const auto it = t.ids.find(text);
            return it == t.ids.end() ? -1 : it->second;
        };
        const PostProcessing post = readPostProcessor(tok.value("post_processor", json()));
        const bool has_config = !tokenizer_config_json.empty();
        v.bos_id = idOf(has_config && config.contains("bos_token") ? configToken(config, "bos_token") : post.first);
        v.eos_id = idOf(has_config && config.contains("eos_token") ? configToken(config, "eos_token") : post.last);
        v.unk_id = idOf(unk_text.empty() ? configToken(config, "unk_token") : unk_text);
        v.pad_id = idOf(configToken(config, "pad_token"));

        // llama.cpp's defaults when the files say nothing.
        v.add_bos = defaultAddBos(v.kind, v.pre);
        v.add_eos = false;
        // A template adds BOS/EOS only if its first/last special token is the BOS/EOS token.
        if (post.add_bos >= 0) v.add_bos = post.add_bos == 1 && (post.first.empty() || idOf(post.first) == v.bos_id);
        if (post.add_eos >= 0) v.add_eos = post.add_eos == 1 && (post.last.empty() || idOf(post.last) == v.eos_id);
        if (v.add_bos && v.bos_id < 0) v.add_bos = false;  // a default with nothing to add
        if (v.add_eos && v.eos_id < 0) v.add_eos = false;
        v.add_bos = boolOr(config, "add_bos_token", v.add_bos);
        v.add_eos = boolOr(config, "add_eos_token", v.add_eos);
        if (v.add_bos && v.bos_id < 0) badJson("tokenizer_config.json sets add_bos_token but names no known bos_token");
        if (v.add_eos && v.eos_id < 0) badJson("tokenizer_config.json sets add_eos_token but names no known eos_token");

        if (const auto it = config.find("chat_template"); it != config.end()) {
            if (it->is_string()) {
                v.chat_template = it->get<std::string>();
            } else if (it->is_array()) {
                for (const json& named : *it) {
                    if (named.is_object() && stringOr(named, "name") == "default")
                        v.chat_template = stringOr(named, "template");
                }
            }
        }
        v.tokens = std::move(t.tokens);
        return v;
    } catch (const json::exception& e) {
        badJson(std::string("unexpected structure: ") + e.what());
    }
}

}  // namespace vki::model
