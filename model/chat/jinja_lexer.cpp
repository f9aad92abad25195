#include "model/chat/jinja_lexer.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <utility>

#include "common/error.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::model::jinja {
namespace {

// The template after preprocessing, with the original offset of every byte so that
// errors point into the text the user wrote.
struct Source {
    std::string text;
    std::vector<uint32_t> origin;  // origin[i] for text[i]; one extra entry for the end

    void copy(const Source& src, size_t begin, size_t end) {
        text.append(src.text, begin, end - begin);
        origin.insert(origin.end(), src.origin.begin() + static_cast<std::ptrdiff_t>(begin),
                      src.origin.begin() + static_cast<std::ptrdiff_t>(end));
    }
    void finish(uint32_t end_offset) { origin.push_back(end_offset); }
    uint32_t end() const { return origin.back(); }
};

// Where JavaScript's multiline `^` matches: after \n, \r, U+2028 and U+2029.
bool isLineStart(const std::string& s, size_t i) {
    if (i == 0) return true;
    if (s[i - 1] == '\n' || s[i - 1] == '\r') return true;
    return i >= 3 && s.compare(i - 3, 2, "\xE2\x80") == 0 && (s[i - 1] == '\xA8' || s[i - 1] == '\xA9');
}

// template.replace(/^[ \t]*({[#%-])/gm, "$1")
Source lstripBlocks(const Source& in) {
    Source out;
    const std::string& s = in.text;
    size_t i = 0;
    while (i < s.size()) {
        if (isLineStart(s, i)) {
            size_t j = i;
            while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
            if (j + 1 < s.size() && s[j] == '{' && (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
                out.copy(in, j, j + 2);
                i = j + 2;
                continue;
            }
        }
        out.copy(in, i, i + 1);
        ++i;
    }
    out.finish(in.end());
    return out;
}

// template.replace(/([#%-]})\n/g, "$1")
Source trimBlocks(const Source& in) {
    Source out;
    const std::string& s = in.text;
    size_t i = 0;
    while (i < s.size()) {
        if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' && s[i + 2] == '\n') {
            out.copy(in, i, i + 2);
            i += 3;
            continue;
        }
        out.copy(in, i, i + 1);
        ++i;
    }
    out.finish(in.end());
    return out;
}

// Byte length of the JavaScript whitespace character that ends at `end`, 0 if none.
size_t jsWhitespaceBefore(const std::string& s, size_t end) {
    for (size_t len = 1; len <= 3 && len <= end; ++len) {
        if (jsWhitespaceAt(std::string_view(s).substr(end - len, len)) == len) return len;
    }
    return 0;
}

size_t skipJsWhitespace(const std::string& s, size_t i) {
    while (size_t n = jsWhitespaceAt(std::string_view(s).substr(i))) i += n;
    return i;
}

// End of a {% generation %} / {% endgeneration %} tag starting at `i` (which holds "{%"),
// and its whitespace-control dashes: /{%(-?)\s*(?:end)?generation\s*(-?)%}/.
std::optional<size_t> matchGenerationTag(const std::string& s, size_t i, bool& lstrip, bool& rstrip) {
    size_t j = i + 2;
    lstrip = j < s.size() && s[j] == '-';
    if (lstrip) ++j;
    j = skipJsWhitespace(s, j);
    if (s.compare(j, 3, "end") == 0 && s.compare(j + 3, 10, "generation") == 0) j += 3;
    if (s.compare(j, 10, "generation") != 0) return std::nullopt;
    j = skipJsWhitespace(s, j + 10);
    rstrip = j < s.size() && s[j] == '-';
    if (rstrip) ++j;
    if (s.compare(j, 2, "%}") != 0) return std::nullopt;
    return j + 2;
}

// transformers' generation tags mark assistant spans for training masks; rendering drops
// them (and the whitespace their dashes strip):
// /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/gs
Source removeGenerationTags(const Source& in) {
    const std::string& s = in.text;
    Source out;
    size_t copied = 0;  // everything before this is already in `out`
    size_t i = 0;
    while ((i = s.find("{%", i)) != std::string::npos) {
        bool lstrip = false, rstrip = false;
        const auto tag_end = matchGenerationTag(s, i, lstrip, rstrip);
        if (!tag_end) {
            i += 2;
            continue;
        }
        size_t ws_begin = i;
        while (ws_begin > copied) {
            const size_t n = jsWhitespaceBefore(s, ws_begin);
            if (n == 0 || ws_begin - n < copied) break;
            ws_begin -= n;
        }
        const size_t ws_end = skipJsWhitespace(s, *tag_end);
        out.copy(in, copied, lstrip ? ws_begin : i);
        if (!rstrip) out.copy(in, *tag_end, ws_end);
        copied = ws_end;
        i = ws_end;
    }
    out.copy(in, copied, s.size());
    out.finish(in.end());
    return out;
}

Source preprocess(std::string_view source) {
    Source src;
    src.text.assign(source);
    src.origin.resize(source.size() + 1);
    for (size_t i = 0; i <= source.size(); ++i) src.origin[i] = static_cast<uint32_t>(i);
    if (!src.text.empty() && src.text.back() == '\n') {
        src.text.pop_back();
        src.origin.pop_back();
    }
    return removeGenerationTags(trimBlocks(lstripBlocks(src)));
}

bool isWordByte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool isDigitByte(char c) {
    return c >= '0' && c <= '9';
}

constexpr std::array<std::pair<std::string_view, TokenType>, 29> kOrderedTokens = {{
    {"{%", TokenType::kOpenStatement},
    {"%}", TokenType::kCloseStatement},
    {"{{", TokenType::kOpenExpression},
    {"}}", TokenType::kCloseExpression},
    {"(", TokenType::kOpenParen},
    {")", TokenType::kCloseParen},
    {"{", TokenType::kOpenCurlyBracket},
    {"}", TokenType::kCloseCurlyBracket},
    {"[", TokenType::kOpenSquareBracket},
    {"]", TokenType::kCloseSquareBracket},
    {",", TokenType::kComma},
    {".", TokenType::kDot},
    {":", TokenType::kColon},
    {"|", TokenType::kPipe},
    {"<=", TokenType::kComparisonOperator},
    {">=", TokenType::kComparisonOperator},
    {"==", TokenType::kComparisonOperator},
    {"!=", TokenType::kComparisonOperator},
    {"<", TokenType::kComparisonOperator},
    {">", TokenType::kComparisonOperator},
    {"+", TokenType::kAdditiveOperator},
    {"-", TokenType::kAdditiveOperator},
    {"~", TokenType::kAdditiveOperator},
    {"**", TokenType::kExponentiationOperator},
    {"*", TokenType::kMultiplicativeOperator},
    {"//", TokenType::kMultiplicativeOperator},
    {"/", TokenType::kMultiplicativeOperator},
    {"%", TokenType::kMultiplicativeOperator},
    {"=", TokenType::kEquals},
}};

class Lexer {
public:
    Lexer(Source src, const SourceMap& map) : src_(std::move(src)), s_(src_.text), map_(map) {}

    std::vector<Token> run() {
        while (pos_ < s_.size()) step();
        return std::move(tokens_);
    }

private:
    [[noreturn]] void fail(size_t at, const std::string& message) const {
        throw Error(ErrorCode::kBadFile,
                    "chat template, " + map_.describe(src_.origin[std::min(at, s_.size())]) + ": " + message);
    }

    char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
    bool startsWith(std::string_view prefix) const { return s_.compare(pos_, prefix.size(), prefix) == 0; }
    std::optional<TokenType> lastType() const {
        return tokens_.empty() ? std::nullopt : std::optional<TokenType>(tokens_.back().type);
    }
    void push(TokenType type, std::string value, size_t start) {
        tokens_.push_back(Token{type, std::move(value), src_.origin[start]});
    }

    // consumeWhile of the oracle: escapes are decoded for every token it reads, and running
    // into the end of the template is an error.
    std::string consumeWhile(const std::function<bool(size_t)>& pred) {
        std::string out;
        char32_t high_surrogate = 0;  // pending first half of a \u surrogate pair, 0 if none
        while (pos_ < s_.size() && pred(pos_)) {
            const size_t start = pos_;
            std::optional<char32_t> unit;  // a UTF-16 unit from a \x or \u escape
            if (s_[pos_] == '\\') {
                ++pos_;
                if (pos_ >= s_.size()) fail(pos_, "Unexpected end of input");
                const char escaped = s_[pos_++];
                if (escaped == 'x' || escaped == 'u') {
                    const size_t len = escaped == 'x' ? 2 : 4;
                    const std::string hex = s_.substr(pos_, len);
                    if (hex.size() != len || !std::all_of(hex.begin(), hex.end(), [](char c) {
                            return isDigitByte(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                        })) {
                        fail(start, "Invalid hexadecimal escape sequence: \\" + std::string(1, escaped) + hex);
                    }
                    unit = static_cast<char32_t>(std::stoul(hex, nullptr, 16));
                    pos_ += len;
                } else {
                    static constexpr std::string_view kFrom = "ntrbfv'\"\\", kTo = "\n\t\r\b\f\v'\"\\";
                    const size_t k = kFrom.find(escaped);
                    if (k == std::string_view::npos) {
                        fail(start, "Unexpected escaped character: " + std::string(1, escaped));
                    }
                    unit = kTo[k];
                }
            }
            if (high_surrogate != 0) {
                if (!unit || *unit < 0xDC00 || *unit > 0xDFFF) fail(start, "unpaired UTF-16 surrogate escape");
                appendUtf8(out, 0x10000 + ((high_surrogate - 0xD800) << 10) + (*unit - 0xDC00));
                high_surrogate = 0;
                continue;
            }
            if (unit) {
                if (*unit >= 0xD800 && *unit <= 0xDBFF) {
                    high_surrogate = *unit;
                } else if (*unit >= 0xDC00 && *unit <= 0xDFFF) {
                    fail(start, "unpaired UTF-16 surrogate escape");
                } else {
                    appendUtf8(out, *unit);
                }
                continue;
            }
            decodeUtf8(s_, pos_);
            out.append(s_, start, pos_ - start);
            if (pos_ >= s_.size()) fail(pos_, "Unexpected end of input");
        }
        if (high_surrogate != 0) fail(pos_, "unpaired UTF-16 surrogate escape");
        return out;
    }

    bool isWhitespaceAt(size_t i) const { return jsWhitespaceAt(std::string_view(s_).substr(i)) > 0; }

    void stripTrailingWhitespace() {
        if (tokens_.empty() || tokens_.back().type != TokenType::kText) return;
        std::string& text = tokens_.back().value;
        text.resize(jsTrimEnd(text).size());
        if (text.empty()) tokens_.pop_back();
    }

    void skipLeadingWhitespace() {
        while (size_t n = jsWhitespaceAt(std::string_view(s_).substr(pos_))) pos_ += n;
    }

    bool atTagStart(size_t i) const {
        return at(i) == '{' && (at(i + 1) == '%' || at(i + 1) == '{' || at(i + 1) == '#');
    }

    void step() {
        const auto last = lastType();
        if (!last || *last == TokenType::kCloseStatement || *last == TokenType::kCloseExpression ||
            *last == TokenType::kComment) {
            const size_t start = pos_;
            while (pos_ < s_.size() && !atTagStart(pos_)) ++pos_;
            if (pos_ > start) {
                push(TokenType::kText, s_.substr(start, pos_ - start), start);
                return;
            }
        }
        if (startsWith("{#")) return comment();
        if (startsWith("{%-")) {
            stripTrailingWhitespace();
            push(TokenType::kOpenStatement, "{%", pos_);
            pos_ += 3;
            return;
        }
        if (startsWith("{{-")) {
            stripTrailingWhitespace();
            push(TokenType::kOpenExpression, "{{", pos_);
            curly_depth_ = 0;
            pos_ += 3;
            return;
        }
        consumeWhile([this](size_t i) { return isWhitespaceAt(i); });
        if (startsWith("-%}") || startsWith("-}}")) {
            const bool statement = startsWith("-%}");
            push(statement ? TokenType::kCloseStatement : TokenType::kCloseExpression, statement ? "%}" : "}}", pos_);
            pos_ += 3;
            skipLeadingWhitespace();
            return;
        }
        const char c = s_[pos_];
        if ((c == '-' || c == '+') && unarySign()) return;
        for (const auto& [seq, type] : kOrderedTokens) {
            if (seq == "}}" && curly_depth_ > 0) continue;
            if (!startsWith(seq)) continue;
            push(type, std::string(seq), pos_);
            if (type == TokenType::kOpenExpression) curly_depth_ = 0;
            if (type == TokenType::kOpenCurlyBracket) ++curly_depth_;
            if (type == TokenType::kCloseCurlyBracket) --curly_depth_;
            pos_ += seq.size();
            return;
        }
        const size_t start = pos_;
        if (c == '\'' || c == '"') {
            ++pos_;
            std::string value = consumeWhile([this, c](size_t i) { return s_[i] != c; });
            if (pos_ >= s_.size()) fail(pos_, "Unexpected end of input");
            push(TokenType::kStringLiteral, std::move(value), start);
            ++pos_;
            return;
        }
        if (isDigitByte(c)) {
            std::string num = consumeWhile([this](size_t i) { return isDigitByte(s_[i]); });
            if (lastType() != TokenType::kDot && at(pos_) == '.' && isDigitByte(at(pos_ + 1))) {
                ++pos_;
                num += "." + consumeWhile([this](size_t i) { return isDigitByte(s_[i]); });
            }
            push(TokenType::kNumericLiteral, std::move(num), start);
            return;
        }
        if (isWordByte(c)) {
            push(TokenType::kIdentifier, consumeWhile([this](size_t i) { return isWordByte(s_[i]); }), start);
            return;
        }
        size_t end = pos_;
        decodeUtf8(s_, end);
        fail(pos_, "Unexpected character: " + s_.substr(pos_, end - pos_));
    }

    // A + or - that does not follow an operand is a sign: it joins the number after it, or
    // becomes a unary operator token. Returns false when it is a binary operator.
    bool unarySign() {
        const auto last = lastType();
        const char c = s_[pos_];
        if (!last || *last == TokenType::kText) fail(pos_, std::string("Unexpected character: ") + c);
        switch (*last) {
            case TokenType::kIdentifier:
            case TokenType::kNumericLiteral:
            case TokenType::kStringLiteral:
            case TokenType::kCloseParen:
            case TokenType::kCloseSquareBracket:
                return false;
            default:
                break;
        }
        const size_t start = pos_++;
        std::string num = consumeWhile([this](size_t i) { return isDigitByte(s_[i]); });
        if (!num.empty() && at(pos_) == '.' && isDigitByte(at(pos_ + 1))) {
            ++pos_;
            num += "." + consumeWhile([this](size_t i) { return isDigitByte(s_[i]); });
        }
        const TokenType type = num.empty() ? TokenType::kUnaryOperator : TokenType::kNumericLiteral;
        push(type, std::string(1, c) + num, start);
        return true;
    }

    void comment() {
        const size_t start = pos_;
        pos_ += 2;
        const bool strip_before = at(pos_) == '-';
        if (strip_before) ++pos_;
        std::string text;
        while (at(pos_) != '#' || at(pos_ + 1) != '}') {
            if (pos_ + 2 >= s_.size()) fail(start, "Missing end of comment tag");
            text += s_[pos_++];
        }
        const bool strip_after = !text.empty() && text.back() == '-';
        if (strip_after) text.pop_back();
        if (strip_before) stripTrailingWhitespace();
        push(TokenType::kComment, std::move(text), start);
        pos_ += 2;
        if (strip_after) skipLeadingWhitespace();
    }

    Source src_;
    const std::string& s_;
    const SourceMap& map_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    int curly_depth_ = 0;
};

}  // namespace

SourceMap::SourceMap(std::string_view source) : source_(source) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
    }
}

std::string SourceMap::describe(uint32_t offset) const {
    offset = std::min<uint32_t>(offset, static_cast<uint32_t>(source_.size()));
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    const uint32_t line_start = *std::prev(it);
    size_t column = 1;
    for (size_t i = line_start; i < offset;) {
        decodeUtf8(source_, i);
        ++column;
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::vector<Token> tokenize(std::string_view source, const SourceMap& map) {
    return Lexer(preprocess(source), map).run();
}

const char* tokenTypeName(TokenType type) {
    switch (type) {
        case TokenType::kText:
            return "text";
        case TokenType::kNumericLiteral:
            return "number";
        case TokenType::kStringLiteral:
            return "string";
        case TokenType::kIdentifier:
            return "identifier";
        case TokenType::kEquals:
            return "'='";
        case TokenType::kOpenParen:
            return "'('";
        case TokenType::kCloseParen:
            return "')'";
        case TokenType::kOpenStatement:
            return "'{%'";
        case TokenType::kCloseStatement:
            return "'%}'";
        case TokenType::kOpenExpression:
            return "'{{'";
        case TokenType::kCloseExpression:
            return "'}}'";
        case TokenType::kOpenSquareBracket:
            return "'['";
        case TokenType::kCloseSquareBracket:
            return "']'";
        case TokenType::kOpenCurlyBracket:
            return "'{'";
        case TokenType::kCloseCurlyBracket:
            return "'}'";
        case TokenType::kComma:
            return "','";
        case TokenType::kDot:
            return "'.'";
        case TokenType::kColon:
            return "':'";
        case TokenType::kPipe:
            return "'|'";
        case TokenType::kAdditiveOperator:
        case TokenType::kMultiplicativeOperator:
        case TokenType::kExponentiationOperator:
        case TokenType::kComparisonOperator:
        case TokenType::kUnaryOperator:
            return "operator";
        case TokenType::kComment:
            return "comment";
    }
    return "token";
}

}  // namespace vki::model::jinja
