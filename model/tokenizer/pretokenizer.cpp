#include "model/tokenizer/pretokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <string>

#include "common/error.hpp"
#include "model/tokenizer/unicode.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model::detail {

namespace {

// The regexes come from the models' tokenizer.json files, as llama.cpp's llama-vocab.cpp
// lists them per LLAMA_VOCAB_PRE_TYPE. "(?i:'s|...)" is spelled out as "'[sS]|..." so that
// case folding cannot widen it (PCRE2 would also fold U+017F into 's').
constexpr const char* kContractions = R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";

// GPT-2's ByteLevel regex (Hugging Face ByteLevel pre-tokenizer with use_regex).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 differs from Qwen 2 only in taking up to three digits at a time.
constexpr const char* kLlama3Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Mistral's tekken (Nemo, Pixtral-style): case-aware words, single digits.
constexpr const char* kTekken = R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
                                R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
                                R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// GPT-4o (o200k): tekken's shape with contractions attached and up to three digits.
constexpr const char* kGpt4oWordUpper =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)";
constexpr const char* kGpt4oWordLower =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)";
constexpr const char* kGpt4oTail = R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: cased letters of the scripts it was trained on, ASCII/fullwidth
// punctuation, trailing whitespace, CJK runs, digit runs (its tokenizer.json's Split steps).
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

// One Hugging Face pre-tokenizer stage: matches of `pattern` and the text between them
// become separate words. `on_bytes` stages run on bytes, not characters: they stand for
// Hugging Face stages placed after ByteLevel, which see the byte-level characters.
struct StepSpec {
    std::string pattern;
    bool on_bytes = false;
};

struct PreSpec {
    std::vector<std::string_view> names;  // tokenizer.ggml.pre values, first is canonical
    bool ignore_merges;
    bool add_bos;  // llama.cpp's default when the file has no add_bos_token
    std::vector<StepSpec> steps;
};

const std::vector<PreSpec>& preSpecs() {
    static const std::vector<PreSpec> specs = {
        // llama.cpp's fallback when a BPE GGUF names no pre-tokenizer.
        {{"default"}, false, false, {{R"([\p{P}\$\+<=>\^~\|]+)"}, {kGpt2}, {R"(\p{N}+)"}, {"[0-9][0-9][0-9]"}}},
        {{"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"},
         true,
         true,
         {{std::string(kContractions) + kLlama3Tail}}},
        {{"dbrx", "smaug-bpe"}, false, false, {{std::string(kContractions) + kLlama3Tail}}},
        {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"},
         false,
         false,
         {{std::string(kContractions) + kQwen2Tail}}},
        {{"gpt-2", "phi-2", "mpt", "olmo", "jais"}, false, false, {{kGpt2}}},
        // Digits(individual_digits) before ByteLevel.
        {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
         false,
         false,
         {{R"(\p{N})"}, {kGpt2}}},
        // Falcon: Punctuation, ByteLevel(use_regex), Digits, Split("[0-9][0-9][0-9]"). The last
        // two see byte-level characters, where the numeric ones are the ASCII digits and the
        // Latin-1 bytes that map to themselves and are numeric: 0xB2 0xB3 0xB9 0xBC-0xBE.
        {{"falcon"},
         false,
         false,
         {{R"([\p{P}\$\+<=>\^~\|`]+)"}, {kGpt2}, {R"([0-9\xB2\xB3\xB9\xBC-\xBE]+)", true}, {"[0-9][0-9][0-9]", true}}},
        {{"deepseek-llm"},
         false,
         false,
         {{R"([\r\n])"}, {kDeepseekLetters}, {kDeepseekPunct}, {R"(\s+$)"}, {kCjk}, {R"(\p{N}+)"}}},
        {{"deepseek-coder"}, false, false, {{R"([\r\n])"}, {R"(\s?\p{L}+)"}, {R"(\s?\p{P}+)"}, {kCjk}, {R"(\p{N})"}}},
        {{"tekken"}, true, true, {{kTekken}}},
        {{"gpt-4o", "llama4"},
         false,
         false,
         {{std::string(kGpt4oWordUpper) + kContractions + "?|" + kGpt4oWordLower + kContractions + "?" + kGpt4oTail}}},
    };
    return specs;
}

const PreSpec* findSpec(std::string_view name) {
    for (const PreSpec& spec : preSpecs()) {
        for (std::string_view n : spec.names) {
            if (n == name) return &spec;
        }
    }
    return nullptr;
}

std::string pcre2Message(int code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof(buffer));
    return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
struct JitStackDeleter {
    void operator()(pcre2_jit_stack* stack) const { pcre2_jit_stack_free(stack); }
};
struct MatchContextDeleter {
    void operator()(pcre2_match_context* context) const { pcre2_match_context_free(context); }
};

}  // namespace

struct PreTokenizer::Step {
    pcre2_code* code = nullptr;
    bool utf = true;

    Step(const StepSpec& spec) : utf(!spec.on_bytes) {
        // MATCH_INVALID_UTF: text may hold any bytes; invalid ones match nothing and end up
        // in the gaps between matches, so they still reach the byte-level BPE.
        const uint32_t options = utf ? PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF : 0;
        int error = 0;
        PCRE2_SIZE offset = 0;
        code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(spec.pattern.c_str()), spec.pattern.size(), options, &error,
                             &offset, nullptr);
        VKI_ASSERT_MSG(code != nullptr, "built-in pre-tokenizer regex does not compile: " + pcre2Message(error));
        // JIT is an optimization: without it (unsupported CPU) the interpreter runs.
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }
    Step(Step&& other) noexcept : code(other.code), utf(other.utf) { other.code = nullptr; }
    Step(const Step&) = delete;
    ~Step() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(std::string_view name) {
    const PreSpec* spec = findSpec(name);
    if (!spec) {
        std::string list;
        for (std::string_view n : supportedNames()) list += (list.empty() ? "" : ", ") + std::string(n);
        throw Error(ErrorCode::kUnsupported,
                    "unknown BPE pre-tokenizer '" + std::string(name) + "' (tokenizer.ggml.pre); supported: " + list);
    }
    ignore_merges_ = spec->ignore_merges;
    steps_.reserve(spec->steps.size());
    for (const StepSpec& step : spec->steps) steps_.emplace_back(step);
}

PreTokenizer::~PreTokenizer() = default;

bool PreTokenizer::isSupported(std::string_view name) {
    return findSpec(name) != nullptr;
}

std::vector<std::string_view> PreTokenizer::supportedNames() {
    std::vector<std::string_view> names;
    for (const PreSpec& spec : preSpecs()) names.insert(names.end(), spec.names.begin(), spec.names.end());
    return names;
}

void PreTokenizer::split(std::string_view text, Range range, std::vector<Range>& out) const {
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(pcre2_match_data_create(1, nullptr));
    std::unique_ptr<pcre2_match_context, MatchContextDeleter> context;
    std::unique_ptr<pcre2_jit_stack, JitStackDeleter> jit_stack;
    if (!match) throw Error(ErrorCode::kOutOfMemory, "pre-tokenizer: out of memory");

    std::vector<Range> current{range};
    std::vector<Range> next;
    for (const Step& step : steps_) {
        next.clear();
        for (const Range word : current) {
            // The subject is the word alone: lookarounds and $ must not see its neighbours.
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + word.begin);
            const std::string_view word_text = text.substr(word.begin, word.end - word.begin);
            const size_t length = word_text.size();
            size_t last = 0;
            size_t pos = 0;
            while (pos < length) {
                int rc = pcre2_match(step.code, subject, length, pos, 0, match.get(), context.get());
                if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !jit_stack) {
                    // The default 32 KiB JIT stack can run out on very long words.
                    jit_stack.reset(pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr));
                    context.reset(pcre2_match_context_create(nullptr));
                    if (!jit_stack || !context) throw Error(ErrorCode::kOutOfMemory, "pre-tokenizer: out of memory");
                    pcre2_jit_stack_assign(context.get(), nullptr, jit_stack.get());
                    continue;
                }
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    throw Error(ErrorCode::kInvalidArgument, "pre-tokenizer: regex match failed on a " +
                                                                 std::to_string(length) +
                                                                 "-byte word: " + pcre2Message(rc));
                }
                const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
                const size_t match_begin = ovector[0];
                const size_t match_end = ovector[1];
                if (match_end == match_begin) {
                    pos = match_begin + (step.utf ? utf8Length(word_text, match_begin) : 1);
                    continue;
                }
                if (match_begin > last) next.push_back({word.begin + last, word.begin + match_begin});
                next.push_back({word.begin + match_begin, word.begin + match_end});
                last = pos = match_end;
            }
            if (last < length) next.push_back({word.begin + last, word.end});
        }
        current.swap(next);
    }
    out.insert(out.end(), current.begin(), current.end());
}

}  // namespace vki::model::detail

namespace vki::model {

bool defaultAddBos(TokenizerKind kind, std::string_view pre) {
    if (kind == TokenizerKind::kSpm) return true;
    const detail::PreSpec* spec = detail::findSpec(pre);
    return spec != nullptr && spec->add_bos;
}

}  // namespace vki::model
