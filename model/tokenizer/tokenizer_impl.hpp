// Tables a Tokenizer builds once from its Vocab, shared by the SPM and BPE encoders, the
// decoder and streams. Internal to the tokenizer module.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/pretokenizer.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model::detail {

// Texts split out of the input before tokenizing: user-defined tokens always, control and
// unknown tokens when the caller asks. Sorted texts act as a trie: the entries sharing a
// prefix form a contiguous run, narrowed one byte at a time.
class SpecialMatcher {
public:
    void add(std::string_view text, int32_t id, bool always);
    void finish();  // sorts; call once after the last add
    bool empty() const { return entries_.empty(); }
    // Longest entry that starts at text[pos] and is allowed (always, or parse_special).
    // Returns its index in entries or -1.
    int32_t match(std::string_view text, size_t pos, bool parse_special) const;
    size_t length(int32_t entry) const { return entries_[entry].text.size(); }
    int32_t id(int32_t entry) const { return entries_[entry].id; }

private:
    struct Entry {
        std::string_view text;
        int32_t id;
        bool always;
    };
    std::vector<Entry> entries_;
    std::array<bool, 256> first_byte_{};
};

struct MergeRule {
    int32_t rank;
    int32_t result;  // symbol id of the merged text
};

struct TokenizerImpl {
    Vocab vocab;
    int32_t n_tokens = 0;

    // Token text -> id, keys viewing vocab.tokens (a TokenizerImpl never moves). For kSpm
    // only the tokens SentencePiece lets text turn into (normal, user-defined, undefined).
    std::unordered_map<std::string_view, int32_t> text_ids;
    // Per byte: the token that encodes it alone (kSpm "<0xXX>", kBpe its byte-level
    // character), or -1.
    std::array<int32_t, 256> byte_tokens{};

    // What decode emits per id, and whether skip_special drops it.
    std::vector<std::string> pieces;
    std::vector<bool> special;
    bool strip_leading_space = false;  // kSpm with the dummy prefix

    SpecialMatcher specials;

    // kBpe. Symbols are ids: < n_tokens for tokens, above for texts that merges name but
    // the vocabulary lacks (kept so such merges still chain as llama.cpp's string merges do).
    std::unordered_map<uint64_t, MergeRule> merges;  // (left << 32 | right) -> rule
    std::array<int32_t, 256> byte_symbols{};         // the symbol each byte starts as
    std::deque<std::string> extra_symbols;           // texts of ids n_tokens, n_tokens + 1, ...
    std::unique_ptr<PreTokenizer> pre;
};

// Appends the ids of `text` (no special tokens inside) to `out`.
void encodeSpm(const TokenizerImpl& impl, std::string_view text, bool add_prefix, std::vector<int32_t>& out);
void encodeBpe(const TokenizerImpl& impl, std::string_view text, std::vector<int32_t>& out);

// Appends the token for a byte that has no better encoding: its byte token, else the
// unknown token; throws kInvalidArgument when the vocab has neither.
void appendByteFallback(const TokenizerImpl& impl, uint8_t byte, std::vector<int32_t>& out);

}  // namespace vki::model::detail
