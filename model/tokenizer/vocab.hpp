// A model's vocabulary as GGUF describes it (the `tokenizer.ggml.*` keys), and importers
// that build one from Hugging Face and SentencePiece files. No Vulkan, no I/O: callers
// pass file contents. Everything here is a plain value; thread safety is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vki::model {

// tokenizer.ggml.model: which algorithm turns text into ids.
enum class TokenizerKind {
    kSpm,  // "llama": SentencePiece BPE over U+2581-escaped text, merges by piece score, byte fallback
    kBpe,  // "gpt2": byte-level BPE, merges by rank, text first split by a pre-tokenizer regex
};

// tokenizer.ggml.token_type values (the same numbers SentencePiece uses, plus kUndefined).
enum class TokenType : int32_t {
    kUndefined = 0,
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
};

struct Vocab {
    TokenizerKind kind = TokenizerKind::kSpm;
    std::string pre = "default";      // tokenizer.ggml.pre: the BPE pre-tokenizer (ignored for kSpm)
    std::vector<std::string> tokens;  // tokenizer.ggml.tokens; id = index
    std::vector<float> scores;        // tokenizer.ggml.scores (kSpm: required; kBpe: may be empty)
    std::vector<TokenType> types;     // tokenizer.ggml.token_type (empty: every token kNormal)
    std::vector<std::string> merges;  // tokenizer.ggml.merges, "left right", rank = index (kBpe)
    int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;  // -1: none
    bool add_bos = false, add_eos = false;                       // tokenizer.ggml.add_bos_token / add_eos_token
    bool add_space_prefix = true;                                // tokenizer.ggml.add_space_prefix (kSpm dummy prefix)
    std::string chat_template;                                   // tokenizer.chat_template, when the source has one
};

// llama.cpp's add_bos_token for a vocabulary whose file does not say: SPM models and the
// Llama 3 and tekken pre-tokenizer families add BOS; other BPE models do not.
bool defaultAddBos(TokenizerKind kind, std::string_view pre);

// Hugging Face tokenizer.json, plus the text of tokenizer_config.json (may be empty), to a
// Vocab, deciding the way llama.cpp's converter does:
//  - model "BPE" with byte_fallback -> kSpm; scores derived from the merge ranks (a merged
//    piece scores -rank of the first merge that makes it), add_space_prefix from a Prepend
//    normalizer or a Metaspace pre-tokenizer;
//  - model "BPE" with a ByteLevel pre-tokenizer -> kBpe; `pre` named by matching the
//    pre_tokenizer section against the configurations of the supported models;
//  - token types: byte pieces <0xXX> kByte (kSpm), the unk token kUnknown, added tokens
//    kControl when special (or shaped like "<|...|>"), kUserDefined otherwise; ids the
//    file skips become "[PAD<id>]" kUnused.
//  - bos/eos/pad from tokenizer_config (bos_token, ...), else from a TemplateProcessing
//    post-processor; add_bos/add_eos from tokenizer_config's add_bos_token/add_eos_token,
//    else the post-processor, else defaultAddBos; chat_template from tokenizer_config.
// Throws vki::Error: kBadFile when either text is not valid JSON or lacks what a
// tokenizer needs (the message names the field); kUnsupported for models or pipeline
// stages this runtime cannot reproduce (WordPiece, Unigram, unknown pre-tokenizers,
// normalizers other than the SentencePiece-style ones and NFC), naming what it found.
Vocab vocabFromHfTokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

// A SentencePiece tokenizer.model (serialized ModelProto) to a kSpm Vocab: pieces, scores
// and types as stored, unk/bos/eos/pad from the trainer spec, add_space_prefix from the
// normalizer's add_dummy_prefix, add_bos = true (as llama.cpp does for SPM models).
// Throws vki::Error(kBadFile) for anything that is not a complete model (truncated,
// malformed protobuf, missing specs, ids out of range) and kUnsupported for models that
// are not BPE (Unigram, word, char).
Vocab vocabFromSpmModel(std::span<const std::byte> model_proto);

}  // namespace vki::model
