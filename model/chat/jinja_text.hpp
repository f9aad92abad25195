// String and number semantics of the JavaScript engine that runs @huggingface/jinja, on
// UTF-8 strings: whitespace, trimming, UTF-16 lengths and indices, case mapping, number
// formatting and parsing, JSON quoting. The chat-template oracle is that engine, so these
// decide the bytes a template renders.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vki::model::jinja {

// Decodes the code point at `pos` and advances past it. A byte that does not start a valid
// UTF-8 sequence decodes as 0xDC00 + byte (a lone low surrogate, which valid UTF-8 cannot
// hold) and appendUtf8 writes it back as that byte, so invalid input passes through.
char32_t decodeUtf8(std::string_view s, size_t& pos);
void appendUtf8(std::string& out, char32_t cp);
std::u32string toCodePoints(std::string_view s);
std::string fromCodePoints(std::u32string_view cps);

// JavaScript's WhiteSpace and LineTerminator (what /\s/ and String.prototype.trim use).
bool isJsWhitespace(char32_t cp);
// Length in bytes of the JavaScript whitespace character at the start of `s`, 0 if none.
size_t jsWhitespaceAt(std::string_view s);
std::string_view jsTrim(std::string_view s);
std::string_view jsTrimStart(std::string_view s);
std::string_view jsTrimEnd(std::string_view s);

// String.prototype.length: UTF-16 code units.
size_t jsLength(std::string_view s);
// String.prototype.at(index) for a UTF-16 index; nullopt when out of range. Throws
// EvalError(kUnsupported) when the index lands inside a surrogate pair: the oracle would
// return half a character, which has no UTF-8 form.
std::optional<std::string> jsCharAt(std::string_view s, double index);

std::string jsToUpper(std::string_view s);
std::string jsToLower(std::string_view s);

// Number.prototype.toString() (shortest round-trip digits, exponent past 1e21 and below 1e-6).
std::string jsNumberToString(double v);
// How @huggingface/jinja prints a float: integral values keep one decimal ("2.0", "-0.0").
std::string jsFloatToString(double v);
// ToNumber(string): NaN when the whole string is not a numeric literal.
double jsStringToNumber(std::string_view s);
// parseInt(s, 10) and parseFloat(s); nullopt where JavaScript gives NaN.
std::optional<double> jsParseInt(std::string_view s);
std::optional<double> jsParseFloat(std::string_view s);

// JSON.stringify of a string, optionally with every UTF-16 unit >= 0x7f as \uXXXX.
void appendJsonString(std::string& out, std::string_view s, bool ensure_ascii);
// Orders strings as JavaScript's < does: by UTF-16 code units.
int compareUtf16(std::string_view a, std::string_view b);

}  // namespace vki::model::jinja
