// The two merge loops. Both keep the word as a doubly linked list of symbols over the
// original bytes (no copies of the text per merge) and a priority queue of candidate
// merges; a candidate whose neighbours changed since it was queued is dropped on pop.
#include <cstdio>
#include <queue>
#include <string>

#include "common/error.hpp"
#include "model/tokenizer/tokenizer_impl.hpp"
#include "model/tokenizer/unicode.hpp"

namespace vki::model::detail {

namespace {

struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t begin;   // byte offset of the symbol's text
    uint32_t length;  // 0 once merged into its left neighbour
    int32_t id;       // token (kSpm: -1 for a character the vocab lacks) or kBpe symbol id
};

// SentencePiece BPE (llm_tokenizer_spm): repeatedly merge the adjacent pair whose
// concatenation is the highest-scoring piece, leftmost first on ties.
struct SpmCandidate {
    float score;
    int32_t left;
    int32_t right;
    uint32_t length;  // bytes of the merged text, to detect stale candidates
    int32_t id;       // the merged piece

    bool operator<(const SpmCandidate& other) const {  // priority_queue pops the largest
        if (score != other.score) return score < other.score;
        return left > other.left;
    }
};

// Byte-level BPE (llm_tokenizer_bpe): merge the pair with the lowest rank, leftmost first.
struct BpeCandidate {
    int32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_id;
    int32_t right_id;
    int32_t result;

    bool operator<(const BpeCandidate& other) const {
        if (rank != other.rank) return rank > other.rank;
        return left > other.left;
    }
};

void linkSymbols(std::vector<Symbol>& symbols) {
    for (size_t i = 0; i < symbols.size(); ++i) {
        symbols[i].prev = static_cast<int32_t>(i) - 1;
        symbols[i].next = i + 1 < symbols.size() ? static_cast<int32_t>(i + 1) : -1;
    }
}

void mergeRight(std::vector<Symbol>& symbols, int32_t left, int32_t right) {
    Symbol& l = symbols[left];
    Symbol& r = symbols[right];
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = left;
}

}  // namespace

void appendByteFallback(const TokenizerImpl& impl, uint8_t byte, std::vector<int32_t>& out) {
    if (impl.byte_tokens[byte] >= 0) {
        out.push_back(impl.byte_tokens[byte]);
    } else if (impl.vocab.unk_id >= 0) {
        // Hugging Face's fuse_unk: a run of unknown bytes is one unknown token.
        if (out.empty() || out.back() != impl.vocab.unk_id) out.push_back(impl.vocab.unk_id);
    } else {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02X", byte);
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("cannot encode byte ") + hex +
                        ": the vocabulary has no token, byte token or unknown token for it");
    }
}

void encodeSpm(const TokenizerImpl& impl, std::string_view text, bool add_prefix, std::vector<int32_t>& out) {
    // SentencePiece's whitespace escaping: U+2581 for every space, one more in front.
    static constexpr std::string_view kSpace = "\xE2\x96\x81";
    std::string escaped;
    escaped.reserve(text.size() + (add_prefix ? 3 : 0) + 8);
    if (add_prefix) escaped += kSpace;
    for (char c : text) {
        if (c == ' ') {
            escaped += kSpace;
        } else {
            escaped += c;
        }
    }
    if (escaped.empty()) return;

    const auto lookup = [&](size_t begin, size_t length) {
        const auto it = impl.text_ids.find(std::string_view(escaped).substr(begin, length));
        return it == impl.text_ids.end() ? -1 : it->second;
    };

    std::vector<Symbol> symbols;
    symbols.reserve(escaped.size());
    for (size_t pos = 0; pos < escaped.size();) {
        const size_t len = utf8Length(escaped, pos);
        symbols.push_back({0, 0, static_cast<uint32_t>(pos), static_cast<uint32_t>(len), -1});
        pos += len;
    }
    linkSymbols(symbols);

    std::priority_queue<SpmCandidate> queue;
    const auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t length = symbols[left].length + symbols[right].length;
        const int32_t id = lookup(symbols[left].begin, length);
        if (id >= 0) queue.push({impl.vocab.scores[id], left, right, length, id});
    };
    for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!queue.empty()) {
        const SpmCandidate c = queue.top();
        queue.pop();
        const Symbol& l = symbols[c.left];
        const Symbol& r = symbols[c.right];
        if (l.length == 0 || r.length == 0 || l.next != c.right || l.length + r.length != c.length) continue;
        mergeRight(symbols, c.left, c.right);
        symbols[c.left].id = c.id;
        consider(symbols[c.left].prev, c.left);
        consider(c.left, symbols[c.left].next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        const int32_t id = s.id >= 0 ? s.id : lookup(s.begin, s.length);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        // Only single characters can miss: every merge made a piece of the vocabulary.
        for (uint32_t b = 0; b < s.length; ++b)
            appendByteFallback(impl, static_cast<uint8_t>(escaped[s.begin + b]), out);
    }
}

namespace {

void bpeWord(const TokenizerImpl& impl, std::string_view text, Range word, std::vector<Symbol>& symbols,
             std::string& scratch, std::vector<int32_t>& out) {
    if (impl.pre->ignoreMerges()) {
        scratch.clear();
        for (size_t i = word.begin; i < word.end; ++i) scratch += byteLevelChar(static_cast<uint8_t>(text[i]));
        const auto it = impl.text_ids.find(scratch);
        if (it != impl.text_ids.end()) {
            out.push_back(it->second);
            return;
        }
    }

    // One symbol per byte: each byte is one byte-level character.
    symbols.clear();
    for (size_t i = word.begin; i < word.end; ++i) {
        symbols.push_back({0, 0, static_cast<uint32_t>(i), 1, impl.byte_symbols[static_cast<uint8_t>(text[i])]});
    }
    linkSymbols(symbols);

    std::priority_queue<BpeCandidate> queue;
    const auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const int32_t a = symbols[left].id;
        const int32_t b = symbols[right].id;
        if (a < 0 || b < 0) return;
        const auto it = impl.merges.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
        if (it != impl.merges.end()) queue.push({it->second.rank, left, right, a, b, it->second.result});
    };
    for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!queue.empty()) {
        const BpeCandidate c = queue.top();
        queue.pop();
        const Symbol& l = symbols[c.left];
        const Symbol& r = symbols[c.right];
        // Ids only grow into longer texts, so equal ids and adjacency mean nothing changed.
        if (l.length == 0 || r.length == 0 || l.next != c.right || l.id != c.left_id || r.id != c.right_id) continue;
        mergeRight(symbols, c.left, c.right);
        symbols[c.left].id = c.result;
        consider(symbols[c.left].prev, c.left);
        consider(c.left, symbols[c.left].next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        if (s.id >= 0 && s.id < impl.n_tokens) {
            out.push_back(s.id);
            continue;
        }
        for (uint32_t b = 0; b < s.length; ++b) appendByteFallback(impl, static_cast<uint8_t>(text[s.begin + b]), out);
    }
}

}  // namespace

void encodeBpe(const TokenizerImpl& impl, std::string_view text, std::vector<int32_t>& out) {
    if (text.empty()) return;
    std::vector<Range> words;
    impl.pre->split(text, {0, text.size()}, words);
    std::vector<Symbol> symbols;
    std::string scratch;
    for (const Range word : words) {
        if (word.end > word.begin) bpeWord(impl, text, word, symbols, scratch, out);
    }
}

}  // namespace vki::model::detail
