// Text <-> token ids for a Vocab: SentencePiece-style BPE (kSpm) and byte-level BPE with
// pre-tokenizer regexes (kBpe), following llama.cpp's llm_tokenizer_spm / _bpe and the
// Hugging Face tokenizers they mirror. A Tokenizer is immutable after construction:
// encode, decode and piece may run concurrently from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/vocab.hpp"

namespace vki::model {

namespace detail {
struct TokenizerImpl;
}

class Tokenizer {
public:
    // Validates the vocab and builds the lookup tables. Throws vki::Error:
    //  kBadFile: sizes of tokens/scores/types disagree, a type or special id is out of range,
    //            a token appears twice, a merge is not "left right", add_bos/add_eos without an id;
    //  kUnsupported: unknown kind, or a kBpe pre-tokenizer this build does not know (the
    //            message lists the supported names).
    explicit Tokenizer(Vocab vocab);
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    // Token ids for `text` (any bytes; invalid UTF-8 is kept byte for byte).
    // add_special: BOS/EOS around the result as the vocab's add_bos/add_eos say.
    // parse_special: control and unknown token texts in `text` (e.g. "<|eot_id|>") become
    // their ids; without it they are tokenized as plain text. User-defined tokens are
    // always matched. Matching is leftmost-longest. Throws kInvalidArgument when a byte
    // can be encoded neither by a token, a byte token nor an unknown token, and for text
    // over 1 GiB.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes the ids stand for (not necessarily valid UTF-8 when the ids split a
    // character). skip_special drops control, unknown and unused tokens. For kSpm the one
    // space the dummy prefix put before the first word is removed. Exact inverse of
    // encode(text, false, false) for every text, with two kSpm exceptions shared with
    // SentencePiece and Hugging Face: U+2581 in the text decodes as a space, and text that
    // follows a special token keeps the dummy-prefix space encode gave it.
    // Throws kInvalidArgument for an id out of range.
    std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

    // The token's text as stored in the vocab (U+2581 / byte-level characters included).
    // Throws kInvalidArgument for an id out of range.
    std::string_view piece(int32_t id) const;
    const Vocab& vocab() const;  // as validated; empty types filled in (kNormal, kByte for <0xXX>)
    int32_t size() const;        // number of tokens

    // Incremental detokenizer for generated tokens: each push returns the text the new
    // token completes, always whole UTF-8 characters; bytes of a character that later
    // tokens finish are held back; bytes that can never form a character become U+FFFD.
    // flush() returns what is held (an unfinished character as U+FFFD) and starts over.
    // For valid UTF-8 output, the concatenation equals decode() of the same ids.
    // A Stream refers to its Tokenizer, which must outlive it; one Stream per thread.
    class Stream {
    public:
        std::string push(int32_t id);  // kInvalidArgument for an id out of range
        std::string flush();

    private:
        friend class Tokenizer;
        Stream(const detail::TokenizerImpl* impl, bool skip_special) : impl_(impl), skip_special_(skip_special) {}

        const detail::TokenizerImpl* impl_;
        bool skip_special_;
        bool at_start_ = true;  // the kSpm dummy-prefix space is still to be removed
        std::string pending_;   // bytes of a character not yet complete
    };
    Stream stream(bool skip_special = false) const;

private:
    std::unique_ptr<const detail::TokenizerImpl> impl_;
};

// The kBpe pre-tokenizer names (tokenizer.ggml.pre) this build supports.
std::vector<std::string_view> supportedPreTokenizers();

}  // namespace vki::model
