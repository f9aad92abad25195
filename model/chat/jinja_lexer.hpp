// Tokenizer for the Jinja subset, following @huggingface/jinja's lexer token for token,
// including the environment Hugging Face renders chat templates with: one trailing newline
// dropped, lstrip_blocks and trim_blocks on, and transformers' {% generation %} tags removed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vkinfer/vkinfer.hpp"

namespace vki::model::jinja {

enum class TokenType : uint8_t {
    kText,
    kNumericLiteral,
    kStringLiteral,
    kIdentifier,
    kEquals,
    kOpenParen,
    kCloseParen,
    kOpenStatement,
    kCloseStatement,
    kOpenExpression,
    kCloseExpression,
    kOpenSquareBracket,
    kCloseSquareBracket,
    kOpenCurlyBracket,
    kCloseCurlyBracket,
    kComma,
    kDot,
    kColon,
    kPipe,
    kAdditiveOperator,        // + - ~
    kMultiplicativeOperator,  // * / // %
    kExponentiationOperator,  // **
    kComparisonOperator,      // < > <= >= == !=
    kUnaryOperator,           // a + or - that does not follow an operand
    kComment,
};

struct Token {
    TokenType type;
    std::string value;  // string literals unescaped
    uint32_t offset;    // byte offset of the token in the original template
};

// Line and column (1-based, columns in code points) of byte offsets in the template.
class SourceMap {
public:
    explicit SourceMap(std::string_view source);
    std::string describe(uint32_t offset) const;  // "line 3, column 14"

private:
    std::string source_;
    std::vector<uint32_t> line_starts_;
};

// Throws vki::Error(kBadFile) with the position on malformed input.
std::vector<Token> tokenize(std::string_view source, const SourceMap& map);

const char* tokenTypeName(TokenType type);

}  // namespace vki::model::jinja
