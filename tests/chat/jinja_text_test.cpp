// The JavaScript string and number semantics under the interpreter: number formatting,
// parsing, UTF-16 lengths, and case mapping for every code point against the oracle.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "chat/oracle.hpp"
#include "model/chat/jinja_error.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::test {
namespace {

using namespace vki::model::jinja;

TEST(ChatJinjaText, NumberToStringFollowsEcma262) {
    EXPECT_EQ(jsNumberToString(0), "0");
    EXPECT_EQ(jsNumberToString(-0.0), "0");
    EXPECT_EQ(jsNumberToString(42), "42");
    EXPECT_EQ(jsNumberToString(-1.5), "-1.5");
    EXPECT_EQ(jsNumberToString(0.1 + 0.2), "0.30000000000000004");
    EXPECT_EQ(jsNumberToString(1e21), "1e+21");
    EXPECT_EQ(jsNumberToString(123456789012345680000.0), "123456789012345680000");
    EXPECT_EQ(jsNumberToString(1e-6), "0.000001");
    EXPECT_EQ(jsNumberToString(1e-7), "1e-7");
    EXPECT_EQ(jsNumberToString(1.5e-10), "1.5e-10");
    EXPECT_EQ(jsNumberToString(std::pow(2.0, 70)), "1.1805916207174113e+21");
    EXPECT_EQ(jsNumberToString(std::numeric_limits<double>::infinity()), "Infinity");
    EXPECT_EQ(jsNumberToString(-std::numeric_limits<double>::infinity()), "-Infinity");
    EXPECT_EQ(jsNumberToString(std::nan("")), "NaN");
    EXPECT_EQ(jsNumberToString(5e-324), "5e-324");
}

TEST(ChatJinjaText, FloatsKeepOneDecimal) {
    EXPECT_EQ(jsFloatToString(2), "2.0");
    EXPECT_EQ(jsFloatToString(-0.0), "-0.0");
    EXPECT_EQ(jsFloatToString(-5), "-5.0");
    EXPECT_EQ(jsFloatToString(1.25), "1.25");
    EXPECT_EQ(jsFloatToString(std::pow(2.0, 60)), "1152921504606846976.0");
    EXPECT_EQ(jsFloatToString(1e21), "1e+21");
    EXPECT_EQ(jsFloatToString(std::numeric_limits<double>::infinity()), "Infinity");
}

TEST(ChatJinjaText, ParsingLikeJavaScript) {
    EXPECT_EQ(jsParseInt("  42abc"), 42);
    EXPECT_EQ(jsParseInt("-7"), -7);
    EXPECT_EQ(jsParseInt("0x1A"), 0);
    EXPECT_FALSE(jsParseInt("abc").has_value());
    EXPECT_FALSE(jsParseInt("").has_value());
    EXPECT_EQ(jsParseFloat("3.5e2x"), 350);
    EXPECT_EQ(jsParseFloat("-.5"), -0.5);
    EXPECT_EQ(jsParseFloat("1e"), 1);
    EXPECT_EQ(jsParseFloat("Infinityx"), std::numeric_limits<double>::infinity());
    EXPECT_FALSE(jsParseFloat(".").has_value());
    EXPECT_EQ(jsStringToNumber(" 12 "), 12);
    EXPECT_EQ(jsStringToNumber(""), 0);
    EXPECT_EQ(jsStringToNumber("0x10"), 16);
    EXPECT_EQ(jsStringToNumber("0b101"), 5);
    EXPECT_TRUE(std::isnan(jsStringToNumber("12px")));
    EXPECT_TRUE(std::isnan(jsStringToNumber("-0x10")));
    EXPECT_EQ(jsStringToNumber("-Infinity"), -std::numeric_limits<double>::infinity());
}

TEST(ChatJinjaText, Utf16LengthsIndicesAndTrimming) {
    EXPECT_EQ(jsLength("abc"), 3u);
    EXPECT_EQ(jsLength("é"), 1u);
    EXPECT_EQ(jsLength("🚀"), 2u);
    EXPECT_EQ(jsCharAt("a🚀b", 3), "b");
    EXPECT_EQ(jsCharAt("a🚀b", -1), "b");
    EXPECT_FALSE(jsCharAt("ab", 2).has_value());
    EXPECT_THROW(jsCharAt("a🚀b", 1), EvalError);
    EXPECT_EQ(jsTrim("\u3000\u00a0 x \t\n\u2028"), "x");
    EXPECT_EQ(jsTrimEnd("x\u200b"), "x\u200b");  // ZERO WIDTH SPACE is not whitespace to JavaScript
    // Invalid UTF-8 passes through unchanged.
    const std::string invalid = "a\xff\xc0z";
    EXPECT_EQ(jsToUpper(invalid), "A\xff\xc0Z");
    EXPECT_EQ(jsLength(invalid), 4u);
}

TEST(ChatJinjaText, FinalSigma) {
    EXPECT_EQ(jsToLower("ΟΔΟΣ"), "οδος");
    EXPECT_EQ(jsToLower("ΣΑ"), "σα");
    EXPECT_EQ(jsToLower("Σ"), "σ");
    EXPECT_EQ(jsToLower("ΑΣ'"), "ας'");
    EXPECT_EQ(jsToLower("ΑΣ'Α"), "ασ'α");
}

// Every code point through `upper` and `lower`, one per line, against the oracle.
TEST(ChatJinjaText, CaseMappingOfEveryCodePointMatchesOracle) {
    VKI_REQUIRE_ORACLE();
    std::string all;
    for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == '\n') continue;
        appendUtf8(all, cp);
        all += '\n';
    }
    std::vector<OracleCase> cases;
    for (const char* filter : {"upper", "lower"}) {
        OracleCase c;
        c.label = filter;
        c.source = std::string("{{ text | ") + filter + " }}";
        c.options.variables_json = nlohmann::json({{"text", all}}).dump();
        c.options.max_output_bytes = size_t{64} << 20;
        cases.push_back(std::move(c));
    }
    const auto expected = runOracle(cases);
    for (size_t i = 0; i < cases.size(); ++i) {
        ASSERT_TRUE(expected[i].ok) << expected[i].error;
        const std::string actual = i == 0 ? jsToUpper(all) : jsToLower(all);
        if (actual == expected[i].output) continue;
        // Report the first code points that differ.
        size_t a = 0, e = 0, shown = 0;
        size_t line = 0;
        while (a < actual.size() && e < expected[i].output.size() && shown < 10) {
            const size_t a_end = actual.find('\n', a), e_end = expected[i].output.find('\n', e);
            if (actual.substr(a, a_end - a) != expected[i].output.substr(e, e_end - e)) {
                ADD_FAILURE() << cases[i].label << " of line " << line << ": vkinfer '" << actual.substr(a, a_end - a)
                              << "', oracle '" << expected[i].output.substr(e, e_end - e)
                              << "' (regenerate model/chat/jinja_unicode_tables.cpp with "
                                 "tests/chat/gen_unicode_tables.mjs)";
                ++shown;
            }
            a = a_end + 1;
            e = e_end + 1;
            ++line;
        }
        ADD_FAILURE() << cases[i].label << " differs from the oracle";
    }
}

}  // namespace
}  // namespace vki::test
