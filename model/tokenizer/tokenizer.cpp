#include "model/tokenizer/tokenizer.hpp"

#include <algorithm>
#include <limits>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer_impl.hpp"
#include "model/tokenizer/unicode.hpp"

namespace vki::model {

using detail::TokenizerImpl;

namespace detail {

void SpecialMatcher::add(std::string_view text, int32_t id, bool always) {
    if (text.empty()) return;
    entries_.push_back({text, id, always});
    first_byte_[static_cast<uint8_t>(text[0])] = true;
}

void SpecialMatcher::finish() {
    // std::string_view orders by unsigned bytes, shorter prefixes first: what match() needs.
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.text < b.text; });
}

int32_t SpecialMatcher::match(std::string_view text, size_t pos, bool parse_special) const {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) return -1;
    // Invariant: entries [lo, hi) all start with text[pos, pos + k).
    size_t lo = 0;
    size_t hi = entries_.size();
    int32_t best = -1;
    for (size_t k = 0; pos + k < text.size() && lo < hi; ++k) {
        const auto c = static_cast<uint8_t>(text[pos + k]);
        const auto begin = entries_.begin();
        const auto first = std::partition_point(begin + lo, begin + hi, [&](const Entry& e) {
            return e.text.size() <= k || static_cast<uint8_t>(e.text[k]) < c;
        });
        const auto last = std::partition_point(first, begin + hi,
                                               [&](const Entry& e) { return static_cast<uint8_t>(e.text[k]) == c; });
        lo = static_cast<size_t>(first - begin);
        hi = static_cast<size_t>(last - begin);
        if (lo < hi && entries_[lo].text.size() == k + 1 && (entries_[lo].always || parse_special)) {
            best = static_cast<int32_t>(lo);
        }
    }
    return best;
}

}  // namespace detail

namespace {

[[noreturn]] void badVocab(const std::string& what) {
    throw Error(ErrorCode::kBadFile, "tokenizer vocabulary: " + what);
}

void checkShape(const Vocab& v) {
    if (v.kind != TokenizerKind::kSpm && v.kind != TokenizerKind::kBpe) {
        throw Error(ErrorCode::kUnsupported, "tokenizer kind " + std::to_string(static_cast<int>(v.kind)) +
                                                 " is not supported; supported: SPM (\"llama\"), BPE (\"gpt2\")");
    }
    const size_t n = v.tokens.size();
    if (n == 0) badVocab("no tokens (tokenizer.ggml.tokens is empty)");
    if (n >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) badVocab("too many tokens");
    if (v.kind == TokenizerKind::kSpm && v.scores.size() != n) {
        badVocab("an SPM vocabulary needs one score per token (" + std::to_string(v.scores.size()) + " scores for " +
                 std::to_string(n) + " tokens)");
    }
    if (!v.scores.empty() && v.scores.size() != n) {
        badVocab(std::to_string(v.scores.size()) + " scores for " + std::to_string(n) + " tokens");
    }
    if (!v.types.empty() && v.types.size() != n) {
        badVocab(std::to_string(v.types.size()) + " token types for " + std::to_string(n) + " tokens");
    }
    for (size_t i = 0; i < v.types.size(); ++i) {
        const auto t = static_cast<int32_t>(v.types[i]);
        if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) {
            badVocab("token " + std::to_string(i) + " has type " + std::to_string(t) + " (valid: 0..6)");
        }
    }
    const auto checkId = [&](int32_t id, const char* name) {
        if (id < -1 || id >= static_cast<int32_t>(n)) {
            badVocab(std::string(name) + " " + std::to_string(id) + " is outside the " + std::to_string(n) + " tokens");
        }
    };
    checkId(v.bos_id, "bos_id");
    checkId(v.eos_id, "eos_id");
    checkId(v.unk_id, "unk_id");
    checkId(v.pad_id, "pad_id");
    if (v.add_bos && v.bos_id < 0) badVocab("add_bos_token is set but there is no BOS token");
    if (v.add_eos && v.eos_id < 0) badVocab("add_eos_token is set but there is no EOS token");
}

// Decoded bytes of each token and whether skip_special drops it.
void buildPieces(TokenizerImpl& impl) {
    const Vocab& v = impl.vocab;
    impl.pieces.resize(v.tokens.size());
    impl.special.resize(v.tokens.size());
    for (size_t id = 0; id < v.tokens.size(); ++id) {
        const std::string& text = v.tokens[id];
        const TokenType type = v.types[id];
        impl.special[id] = type == TokenType::kControl || type == TokenType::kUnknown || type == TokenType::kUnused;
        std::string& piece = impl.pieces[id];
        const int byte = type == TokenType::kByte ? detail::parseByteToken(text) : -1;
        if (byte >= 0) {
            piece.assign(1, static_cast<char>(byte));
        } else if (type != TokenType::kNormal && type != TokenType::kUndefined && type != TokenType::kByte) {
            piece = text;  // control and user-defined texts are not escaped in either kind
        } else if (v.kind == TokenizerKind::kBpe) {
            piece = detail::decodeByteLevel(text);
        } else {
            for (size_t pos = 0; pos < text.size();) {
                if (text.compare(pos, 3, "\xE2\x96\x81") == 0) {
                    piece += ' ';
                    pos += 3;
                } else {
                    piece += text[pos++];
                }
            }
        }
    }
}

void buildMerges(TokenizerImpl& impl, const std::unordered_map<std::string_view, int32_t>& ids) {
    const Vocab& v = impl.vocab;
    if (v.merges.empty()) badVocab("a BPE vocabulary needs merges (tokenizer.ggml.merges is empty)");
    std::unordered_map<std::string_view, int32_t> extra_ids;
    const auto symbolOf = [&](std::string_view text) {
        if (const auto it = ids.find(text); it != ids.end()) return it->second;
        if (const auto it = extra_ids.find(text); it != extra_ids.end()) return it->second;
        const int32_t id = impl.n_tokens + static_cast<int32_t>(impl.extra_symbols.size());
        impl.extra_symbols.emplace_back(text);
        extra_ids.emplace(impl.extra_symbols.back(), id);
        return id;
    };
    impl.merges.reserve(v.merges.size());
    std::string joined;
    for (size_t rank = 0; rank < v.merges.size(); ++rank) {
        const std::string& merge = v.merges[rank];
        // As llama.cpp: the separator is the first space after the first byte.
        const size_t space = merge.find(' ', 1);
        if (merge.empty() || space == std::string::npos) {
            badVocab("merge " + std::to_string(rank) + " ('" + merge + "') is not \"left right\"");
        }
        const std::string_view left = std::string_view(merge).substr(0, space);
        const std::string_view right = std::string_view(merge).substr(space + 1);
        joined.assign(left).append(right);
        const int32_t a = symbolOf(left);
        const int32_t b = symbolOf(right);
        const int32_t result = symbolOf(joined);
        impl.merges.try_emplace((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b),
                                detail::MergeRule{static_cast<int32_t>(rank), result});
    }
    for (int b = 0; b < 256; ++b) {
        const std::string_view c = detail::byteLevelChar(static_cast<uint8_t>(b));
        const auto it = ids.find(c);
        const auto extra = extra_ids.find(c);
        impl.byte_symbols[b] = it != ids.end() ? it->second : extra != extra_ids.end() ? extra->second : -1;
    }
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) {
    checkShape(vocab);
    auto impl = std::make_unique<TokenizerImpl>();
    impl->vocab = std::move(vocab);
    Vocab& v = impl->vocab;
    if (v.types.empty()) {
        // Without types every token is normal, except that SPM byte pieces are recognized
        // by their "<0xXX>" text, as llama.cpp's byte_to_token does.
        v.types.assign(v.tokens.size(), TokenType::kNormal);
        for (size_t i = 0; i < v.tokens.size() && v.kind == TokenizerKind::kSpm; ++i) {
            if (detail::parseByteToken(v.tokens[i]) >= 0) v.types[i] = TokenType::kByte;
        }
    }
    impl->n_tokens = static_cast<int32_t>(v.tokens.size());

    std::unordered_map<std::string_view, int32_t> ids;
    ids.reserve(v.tokens.size());
    for (size_t i = 0; i < v.tokens.size(); ++i) {
        if (v.tokens[i].empty()) continue;  // never matches text; decodes to nothing
        const auto [it, added] = ids.emplace(v.tokens[i], static_cast<int32_t>(i));
        if (!added)
            badVocab("token '" + v.tokens[i] + "' appears twice (ids " + std::to_string(it->second) + " and " +
                     std::to_string(i) + ")");
    }

    impl->byte_tokens.fill(-1);
    if (v.kind == TokenizerKind::kSpm) {
        // SentencePiece turns text only into normal and user-defined pieces; control, byte
        // and unknown pieces come from ids alone.
        for (const auto& [text, id] : ids) {
            const TokenType t = v.types[id];
            if (t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUndefined) {
                impl->text_ids.emplace(text, id);
            }
            const int byte = t == TokenType::kByte ? detail::parseByteToken(text) : -1;
            if (byte >= 0 && impl->byte_tokens[byte] < 0) impl->byte_tokens[byte] = id;
        }
    } else {
        impl->pre = std::make_unique<detail::PreTokenizer>(v.pre);
        buildMerges(*impl, ids);
        for (int b = 0; b < 256; ++b) {
            const auto it = ids.find(detail::byteLevelChar(static_cast<uint8_t>(b)));
            if (it != ids.end()) impl->byte_tokens[b] = it->second;
        }
        impl->text_ids = std::move(ids);
    }

    buildPieces(*impl);
    impl->strip_leading_space = v.kind == TokenizerKind::kSpm && v.add_space_prefix;
    for (size_t i = 0; i < v.tokens.size(); ++i) {
        const TokenType t = v.types[i];
        if (t == TokenType::kUserDefined || t == TokenType::kControl || t == TokenType::kUnknown) {
            impl->specials.add(v.tokens[i], static_cast<int32_t>(i), t == TokenType::kUserDefined);
        }
    }
    impl->specials.finish();
    impl_ = std::move(impl);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

const Vocab& Tokenizer::vocab() const {
    return impl_->vocab;
}
int32_t Tokenizer::size() const {
    return impl_->n_tokens;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const TokenizerImpl& impl = *impl_;
    const Vocab& v = impl.vocab;
    // Symbol offsets are 32-bit (with room for the dummy prefix and escaping).
    if (text.size() > std::numeric_limits<uint32_t>::max() / 4) {
        throw Error(ErrorCode::kInvalidArgument,
                    "text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && v.add_bos) out.push_back(v.bos_id);

    // The SPM dummy prefix goes before the first text and before text after a special
    // token (llama.cpp's is_prev_special; Hugging Face prepends per split section).
    bool after_special = true;
    size_t segment = 0;
    const auto encodeText = [&](size_t end) {
        if (end <= segment) return;
        const std::string_view part = text.substr(segment, end - segment);
        if (v.kind == TokenizerKind::kSpm) {
            detail::encodeSpm(impl, part, v.add_space_prefix && after_special, out);
        } else {
            detail::encodeBpe(impl, part, out);
        }
        after_special = false;
    };
    if (!impl.specials.empty()) {
        for (size_t pos = 0; pos < text.size();) {
            const int32_t entry = impl.specials.match(text, pos, parse_special);
            if (entry < 0) {
                ++pos;
                continue;
            }
            encodeText(pos);
            out.push_back(impl.specials.id(entry));
            after_special = true;
            pos += impl.specials.length(entry);
            segment = pos;
        }
    }
    encodeText(text.size());
    if (add_special && v.add_eos) out.push_back(v.eos_id);
    return out;
}

namespace {

const TokenizerImpl& checkedId(const TokenizerImpl& impl, int32_t id) {
    if (id < 0 || id >= impl.n_tokens) {
        throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                                     std::to_string(impl.n_tokens));
    }
    return impl;
}

// The bytes `id` adds to a decode; `at_start` tracks the dummy-prefix space, which is
// removed from the first bytes the output gets (Hugging Face's Strip decoder).
std::string_view decodedPiece(const TokenizerImpl& impl, int32_t id, bool skip_special, bool& at_start) {
    checkedId(impl, id);
    if (skip_special && impl.special[id]) return {};
    std::string_view piece = impl.pieces[id];
    if (at_start && !piece.empty()) {
        at_start = false;
        if (impl.strip_leading_space && piece[0] == ' ') piece.remove_prefix(1);
    }
    return piece;
}

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
    std::string out;
    bool at_start = true;
    for (int32_t id : ids) out.append(decodedPiece(*impl_, id, skip_special, at_start));
    return out;
}

std::string_view Tokenizer::piece(int32_t id) const {
    return checkedId(*impl_, id).vocab.tokens[id];
}

Tokenizer::Stream Tokenizer::stream(bool skip_special) const {
    return Stream(impl_.get(), skip_special);
}

std::string Tokenizer::Stream::push(int32_t id) {
    pending_.append(decodedPiece(*impl_, id, skip_special_, at_start_));
    // Emit every whole character; hold back a tail that later bytes may still complete.
    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        const detail::Utf8Scan scan = detail::scanUtf8(pending_, pos);
        if (scan.status == detail::Utf8Scan::kTruncated) break;
        if (scan.status == detail::Utf8Scan::kComplete) {
            out.append(pending_, pos, scan.length);
        } else {
            out += "\xEF\xBF\xBD";
        }
        pos += scan.length;
    }
    pending_.erase(0, pos);
    return out;
}

std::string Tokenizer::Stream::flush() {
    std::string out;
    detail::appendSanitizedUtf8(out, pending_);
    pending_.clear();
    return out;
}

std::vector<std::string_view> supportedPreTokenizers() {
    return detail::PreTokenizer::supportedNames();
}

}  // namespace vki::model
