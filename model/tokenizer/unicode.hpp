// UTF-8 helpers and the GPT-2 byte-level alphabet, internal to the tokenizer module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include "common/utf8.hpp"

namespace vki::model::detail {

// How the bytes at text[pos] begin a UTF-8 sequence (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
struct Utf8Scan {
    enum Status { kComplete, kTruncated, kInvalid } status;
    // kComplete: the sequence length. kTruncated: the bytes up to the end of text, a valid
    // start of a sequence. kInvalid: the maximal subpart to replace with one U+FFFD (>= 1).
    size_t length;
};
Utf8Scan scanUtf8(std::string_view text, size_t pos);

// Length of the character at text[pos]; 1 for a byte that does not start a valid one.
inline size_t utf8Length(std::string_view text, size_t pos) {
    const Utf8Scan scan = scanUtf8(text, pos);
    return scan.status == Utf8Scan::kComplete ? scan.length : 1;
}

// Appends `bytes` with every invalid or truncated sequence replaced by U+FFFD.
void appendSanitizedUtf8(std::string& out, std::string_view bytes);

// GPT-2's reversible byte -> character map: printable Latin-1 bytes stand for themselves,
// the other 68 bytes for U+0100.. in byte order, so any byte string becomes printable text.
std::string_view byteLevelChar(uint8_t byte);  // the character's UTF-8
// The byte a byte-level character stands for, or -1 when `codepoint` is not one.
int byteLevelByte(uint32_t codepoint);

// Decodes the byte-level characters of a kBpe token to the bytes they stand for;
// characters outside the alphabet are kept as they are.
std::string decodeByteLevel(std::string_view token);

// "<0xAB>" -> 0xAB; -1 when `token` is not a byte token's text.
int parseByteToken(std::string_view token);

}  // namespace vki::model::detail
