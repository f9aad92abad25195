#include "model/chat/jinja_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/utf8.hpp"
#include "model/chat/jinja_error.hpp"
#include "model/chat/jinja_unicode.hpp"

namespace vki::model::jinja {
namespace {

constexpr char32_t kEscapedByteBase = 0xDC00;  // decodeUtf8's stand-in for an invalid byte

bool isContinuation(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

bool isEscapedByte(char32_t cp) {
    return cp >= kEscapedByteBase + 0x80 && cp <= kEscapedByteBase + 0xFF;
}

bool inRanges(std::span<const unicode::CodeRange> ranges, char32_t cp) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                               [](char32_t value, const unicode::CodeRange& r) { return value < r.first; });
    return it != ranges.begin() && cp <= std::prev(it)->last;
}

// Appends the case mapping of `cp` from one direction's tables.
void appendMapped(std::string& out, char32_t cp, std::span<const unicode::CaseRun> runs,
                  std::span<const unicode::CaseMulti> multi) {
    auto m = std::lower_bound(multi.begin(), multi.end(), cp,
                              [](const unicode::CaseMulti& e, char32_t value) { return e.cp < value; });
    if (m != multi.end() && m->cp == cp) {
        for (char32_t to : m->to) {
            if (to != 0) appendUtf8(out, to);
        }
        return;
    }
    auto it = std::upper_bound(runs.begin(), runs.end(), cp,
                               [](char32_t value, const unicode::CaseRun& r) { return value < r.first; });
    if (it != runs.begin()) {
        const unicode::CaseRun& run = *std::prev(it);
        if (cp <= run.last && (cp - run.first) % run.stride == 0) {
            appendUtf8(out, static_cast<char32_t>(static_cast<int32_t>(cp) + run.delta));
            return;
        }
    }
    appendUtf8(out, cp);
}

// Unicode's Final_Sigma condition for the capital sigma at `i` (as ICU applies it for
// toLowerCase): a cased letter before it and none after it, skipping case-ignorable ones.
bool isFinalSigma(const std::u32string& cps, size_t i) {
    size_t j = i;
    bool cased_before = false;
    while (j > 0) {
        const char32_t c = cps[--j];
        if (inRanges(unicode::caseIgnorable(), c)) continue;
        cased_before = inRanges(unicode::cased(), c);
        break;
    }
    if (!cased_before) return false;
    for (size_t k = i + 1; k < cps.size(); ++k) {
        if (inRanges(unicode::caseIgnorable(), cps[k])) continue;
        return !inRanges(unicode::cased(), cps[k]);
    }
    return true;
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

// Length of the longest StrDecimalLiteral prefix of `s` without its sign (digits, fraction,
// exponent), or 0 when there is none.
size_t decimalLiteralLength(std::string_view s) {
    size_t i = 0;
    size_t digits = 0;
    while (i < s.size() && isDigit(s[i])) ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
        size_t j = i + 1;
        size_t frac = 0;
        while (j < s.size() && isDigit(s[j])) ++j, ++frac;
        if (digits + frac > 0) i = j, digits += frac;
    }
    if (digits == 0) return 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        size_t exp = j;
        while (j < s.size() && isDigit(s[j])) ++j;
        if (j > exp) i = j;
    }
    return i;
}

double parseDecimal(std::string_view digits) {
    const std::string copy(digits);
    return std::strtod(copy.c_str(), nullptr);
}

std::optional<double> parseRadixLiteral(std::string_view s) {
    if (s.size() < 3 || s[0] != '0') return std::nullopt;
    int radix = 0;
    switch (s[1]) {
        case 'x':
        case 'X':
            radix = 16;
            break;
        case 'o':
        case 'O':
            radix = 8;
            break;
        case 'b':
        case 'B':
            radix = 2;
            break;
        default:
            return std::nullopt;
    }
    double value = 0;
    for (char c : s.substr(2)) {
        int d = -1;
        if (isDigit(c)) d = c - '0';
        if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0 || d >= radix) return std::numeric_limits<double>::quiet_NaN();
        value = value * radix + d;
    }
    return value;
}

void appendHex4(std::string& out, unsigned unit) {
    static const char kHex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
}

std::u16string toUtf16(std::string_view s) {
    std::u16string out;
    for (size_t i = 0; i < s.size();) {
        const char32_t cp = decodeUtf8(s, i);
        if (cp >= 0x10000) {
            out += static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10));
            out += static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            out += static_cast<char16_t>(cp);
        }
    }
    return out;
}

}  // namespace

char32_t decodeUtf8(std::string_view s, size_t& pos) {
    const auto b0 = static_cast<unsigned char>(s[pos]);
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    size_t n = 0;
    char32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 2, cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 3, cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    }
    bool valid = n > 0 && pos + n < s.size();
    if (valid) {
        const auto b1 = static_cast<unsigned char>(s[pos + 1]);
        valid = b1 >= lo && b1 <= hi;
        for (size_t k = 2; valid && k <= n; ++k) valid = isContinuation(static_cast<unsigned char>(s[pos + k]));
    }
    if (!valid) {
        ++pos;
        return kEscapedByteBase + b0;
    }
    for (size_t k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
    pos += n + 1;
    return cp;
}

void appendUtf8(std::string& out, char32_t cp) {
    if (isEscapedByte(cp)) {
        out += static_cast<char>(cp - kEscapedByteBase);
    } else {
        vki::appendUtf8(out, cp);
    }
}

std::u32string toCodePoints(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) out += decodeUtf8(s, i);
    return out;
}

std::string fromCodePoints(std::u32string_view cps) {
    std::string out;
    out.reserve(cps.size());
    for (char32_t cp : cps) appendUtf8(out, cp);
    return out;
}

bool isJsWhitespace(char32_t cp) {
    switch (cp) {
        case 0x09:
        case 0x0A:
        case 0x0B:
        case 0x0C:
        case 0x0D:
        case 0x20:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
        case 0xFEFF:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

size_t jsWhitespaceAt(std::string_view s) {
    if (s.empty()) return 0;
    size_t pos = 0;
    return isJsWhitespace(decodeUtf8(s, pos)) ? pos : 0;
}

std::string_view jsTrimStart(std::string_view s) {
    while (size_t n = jsWhitespaceAt(s)) s.remove_prefix(n);
    return s;
}

std::string_view jsTrimEnd(std::string_view s) {
    // Walk forward so that multi-byte characters are decoded from their first byte.
    size_t end = 0;
    for (size_t i = 0; i < s.size();) {
        if (!isJsWhitespace(decodeUtf8(s, i))) end = i;
    }
    return s.substr(0, end);
}

std::string_view jsTrim(std::string_view s) {
    return jsTrimEnd(jsTrimStart(s));
}

size_t jsLength(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size();) n += decodeUtf8(s, i) >= 0x10000 ? 2 : 1;
    return n;
}

std::optional<std::string> jsCharAt(std::string_view s, double index) {
    const double length = static_cast<double>(jsLength(s));
    double k = std::isnan(index) ? 0 : std::trunc(index);
    if (k < 0) k += length;
    if (k < 0 || k >= length) return std::nullopt;
    const auto target = static_cast<size_t>(k);
    size_t unit = 0;
    for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        const char32_t cp = decodeUtf8(s, i);
        const size_t width = cp >= 0x10000 ? 2 : 1;
        if (target < unit + width) {
            if (width == 2) {
                throw EvalError(ErrorCode::kUnsupported,
                                "string index " + jsNumberToString(index) +
                                    " falls inside a character outside the Basic Multilingual Plane (half a UTF-16 "
                                    "surrogate pair has no UTF-8 form)");
            }
            return std::string(s.substr(start, i - start));
        }
        unit += width;
    }
    return std::nullopt;
}

std::string jsToUpper(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const char32_t cp = decodeUtf8(s, i);
        if (cp < 0x80) {
            out += static_cast<char>(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
        } else {
            appendMapped(out, cp, unicode::upperRuns(), unicode::upperMulti());
        }
    }
    return out;
}

std::string jsToLower(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    const std::u32string cps = toCodePoints(s);
    for (size_t i = 0; i < cps.size(); ++i) {
        const char32_t cp = cps[i];
        if (cp < 0x80) {
            out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        } else if (cp == 0x3A3) {
            appendUtf8(out, isFinalSigma(cps, i) ? 0x3C2 : 0x3C3);
        } else {
            appendMapped(out, cp, unicode::lowerRuns(), unicode::lowerMulti());
        }
    }
    return out;
}

std::string jsNumberToString(double v) {
    if (std::isnan(v)) return "NaN";
    if (v == 0) return "0";
    if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "d.ddde+XX"
    const size_t e_pos = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e_pos)) {
        if (c != '.') digits += c;
    }
    int exponent = 0;
    std::string_view exp_text = sci.substr(e_pos + 1);
    if (exp_text.front() == '+') exp_text.remove_prefix(1);
    std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

    // ECMA-262 Number::toString: k digits, decimal point after n of them.
    const int k = static_cast<int>(digits.size());
    const int n = exponent + 1;
    std::string out = v < 0 ? "-" : "";
    if (k <= n && n <= 21) {
        out += digits;
        out.append(static_cast<size_t>(n - k), '0');
    } else if (0 < n && n <= 21) {
        out += digits.substr(0, static_cast<size_t>(n));
        out += '.';
        out += digits.substr(static_cast<size_t>(n));
    } else if (-6 < n && n <= 0) {
        out += "0.";
        out.append(static_cast<size_t>(-n), '0');
        out += digits;
    } else {
        out += digits[0];
        if (k > 1) {
            out += '.';
            out += digits.substr(1);
        }
        out += n - 1 >= 0 ? "e+" : "e-";
        out += std::to_string(std::abs(n - 1));
    }
    return out;
}

std::string jsFloatToString(double v) {
    if (v == 0 && std::signbit(v)) return "-0.0";
    if (std::isfinite(v) && std::trunc(v) == v) {
        // Number.prototype.toFixed(1): exact decimal digits below 1e21, toString() above.
        if (std::fabs(v) >= 1e21) return jsNumberToString(v);
        char buf[64];
        const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, 0);
        return std::string(buf, res.ptr) + ".0";
    }
    return jsNumberToString(v);
}

double jsStringToNumber(std::string_view s) {
    s = jsTrim(s);
    if (s.empty()) return 0;
    if (auto radix = parseRadixLiteral(s)) return *radix;
    double sign = 1;
    std::string_view body = s;
    if (body.front() == '+' || body.front() == '-') {
        sign = body.front() == '-' ? -1 : 1;
        body.remove_prefix(1);
    }
    if (body == "Infinity") return sign * std::numeric_limits<double>::infinity();
    const size_t n = decimalLiteralLength(body);
    if (n == 0 || n != body.size()) return std::numeric_limits<double>::quiet_NaN();
    return sign * parseDecimal(body);
}

std::optional<double> jsParseInt(std::string_view s) {
    s = jsTrimStart(s);
    double sign = 1;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        sign = s.front() == '-' ? -1 : 1;
        s.remove_prefix(1);
    }
    size_t n = 0;
    while (n < s.size() && isDigit(s[n])) ++n;
    if (n == 0) return std::nullopt;
    return sign * parseDecimal(s.substr(0, n));
}

std::optional<double> jsParseFloat(std::string_view s) {
    s = jsTrimStart(s);
    double sign = 1;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        sign = s.front() == '-' ? -1 : 1;
        s.remove_prefix(1);
    }
    if (s.substr(0, 8) == "Infinity") return sign * std::numeric_limits<double>::infinity();
    const size_t n = decimalLiteralLength(s);
    if (n == 0) return std::nullopt;
    return sign * parseDecimal(s.substr(0, n));
}

void appendJsonString(std::string& out, std::string_view s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        const char32_t cp = decodeUtf8(s, i);
        switch (cp) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (cp < 0x20) {
            appendHex4(out, cp);
        } else if (ensure_ascii && cp >= 0x7F && !isEscapedByte(cp)) {
            if (cp >= 0x10000) {
                appendHex4(out, 0xD800 + ((cp - 0x10000) >> 10));
                appendHex4(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                appendHex4(out, cp);
            }
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    out += '"';
}

int compareUtf16(std::string_view a, std::string_view b) {
    const std::u16string ua = toUtf16(a), ub = toUtf16(b);
    return ua < ub ? -1 : (ub < ua ? 1 : 0);
}

}  // namespace vki::model::jinja
