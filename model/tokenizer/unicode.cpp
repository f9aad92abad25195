#include "model/tokenizer/unicode.hpp"

#include <array>

namespace vki::model::detail {

namespace {

constexpr bool isContinuation(uint8_t byte) {
    return (byte & 0xC0) == 0x80;
}

struct ByteLevelTable {
    std::array<std::array<char, 2>, 256> text{};
    std::array<uint8_t, 256> length{};
    std::array<int16_t, 512> byte_of{};  // codepoint -> byte; every mapped codepoint is < 0x144

    ByteLevelTable() {
        byte_of.fill(-1);
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            const uint32_t cp = printable ? b : next++;
            std::string utf8;
            appendUtf8(utf8, cp);
            length[b] = static_cast<uint8_t>(utf8.size());
            for (size_t i = 0; i < utf8.size(); ++i) text[b][i] = utf8[i];
            byte_of[cp] = static_cast<int16_t>(b);
        }
    }
};

const ByteLevelTable& byteLevelTable() {
    static const ByteLevelTable table;
    return table;
}

}  // namespace

Utf8Scan scanUtf8(std::string_view text, size_t pos) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    const uint8_t lead = byte(pos);
    if (lead < 0x80) return {Utf8Scan::kComplete, 1};
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (RFC 3629 table)
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0) lo = 0xA0;
        if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0) lo = 0x90;
        if (lead == 0xF4) hi = 0x8F;
    } else {
        return {Utf8Scan::kInvalid, 1};
    }
    for (size_t i = 1; i < need; ++i) {
        if (pos + i >= text.size()) return {Utf8Scan::kTruncated, i};
        const uint8_t b = byte(pos + i);
        const bool ok = i == 1 ? (b >= lo && b <= hi) : isContinuation(b);
        if (!ok) return {Utf8Scan::kInvalid, i};
    }
    return {Utf8Scan::kComplete, need};
}

void appendSanitizedUtf8(std::string& out, std::string_view bytes) {
    size_t pos = 0;
    while (pos < bytes.size()) {
        const Utf8Scan scan = scanUtf8(bytes, pos);
        if (scan.status == Utf8Scan::kComplete) {
            out.append(bytes.substr(pos, scan.length));
        } else {
            out += "\xEF\xBF\xBD";
        }
        pos += scan.length;
    }
}

std::string_view byteLevelChar(uint8_t byte) {
    const ByteLevelTable& table = byteLevelTable();
    return {table.text[byte].data(), table.length[byte]};
}

int byteLevelByte(uint32_t codepoint) {
    const ByteLevelTable& table = byteLevelTable();
    return codepoint < table.byte_of.size() ? table.byte_of[codepoint] : -1;
}

std::string decodeByteLevel(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    size_t pos = 0;
    while (pos < token.size()) {
        const size_t len = utf8Length(token, pos);
        // Byte-level characters are all below U+0144: one or two UTF-8 bytes.
        const auto b0 = static_cast<uint8_t>(token[pos]);
        int byte = -1;
        if (len == 1 && b0 < 0x80) {
            byte = byteLevelByte(b0);
        } else if (len == 2) {
            byte = byteLevelByte(((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(token[pos + 1]) & 0x3Fu));
        }
        if (byte >= 0) {
            out += static_cast<char>(byte);
        } else {
            out.append(token.substr(pos, len));
        }
        pos += len;
    }
    return out;
}

int parseByteToken(std::string_view token) {
    if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return -1;
    int value = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = token[i];
        int digit;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'A' && c <= 'F') {
            digit = c - 'A' + 10;
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else {
            return -1;
        }
        value = value * 16 + digit;
    }
    return value;
}

}  // namespace vki::model::detail
