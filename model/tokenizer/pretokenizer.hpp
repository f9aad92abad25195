// The kBpe pre-tokenizers: the regex pipelines that cut text into words before byte-level
// BPE, one per tokenizer.ggml.pre family, compiled with PCRE2 (UTF + UCP). Internal.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace vki::model::detail {

struct Range {
    size_t begin;
    size_t end;
};

class PreTokenizer {
public:
    // Throws vki::Error(kUnsupported) naming the supported pre-tokenizers when `name` is unknown.
    explicit PreTokenizer(std::string_view name);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // Cuts [text.begin, text.end) into words, appended to `out` in order; together they
    // cover the range exactly. Thread safe.
    void split(std::string_view text, Range range, std::vector<Range>& out) const;

    // llama.cpp's tokenizer_ignore_merges for this family: a word that is itself a token
    // is emitted whole instead of going through the merges (Hugging Face "ignore_merges").
    bool ignoreMerges() const { return ignore_merges_; }

    static bool isSupported(std::string_view name);
    static std::vector<std::string_view> supportedNames();

private:
    struct Step;
    std::vector<Step> steps_;
    bool ignore_merges_ = false;
};

}  // namespace vki::model::detail
