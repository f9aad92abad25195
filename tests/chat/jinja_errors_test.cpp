// Errors without the oracle: constructs outside the subset name themselves and their
// position; hostile templates stop at a limit instead of exhausting time, stack or memory.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "model/chat/chat_template.hpp"

namespace vki::test {
namespace {

using model::ChatMessage;
using model::ChatTemplate;
using model::ChatTemplateOptions;

std::string render(const std::string& source, const ChatTemplateOptions& options = {}) {
    const std::vector<ChatMessage> messages = {{"user", "Hello"}, {"assistant", "Hi"}};
    return ChatTemplate(source).render(messages, options);
}

// Runs `fn`, expecting vki::Error with `code` whose message contains every one of `parts`.
template <typename Fn>
void expectError(Fn&& fn, ErrorCode code, std::initializer_list<std::string> parts) {
    try {
        fn();
        ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

void expectParseError(const std::string& source, ErrorCode code, std::initializer_list<std::string> parts) {
    expectError([&] { ChatTemplate{source}; }, code, parts);
}

void expectRenderError(const std::string& source, ErrorCode code, std::initializer_list<std::string> parts,
                       const ChatTemplateOptions& options = {}) {
    ChatTemplate tmpl(source);
    const std::vector<ChatMessage> messages = {{"user", "Hello"}, {"assistant", "Hi"}};
    expectError([&] { tmpl.render(messages, options); }, code, parts);
}

TEST(ChatJinjaErrors, UnsupportedStatementsNameThemselvesAndTheirPosition) {
    expectParseError("{% include 'x.j2' %}", ErrorCode::kUnsupported, {"include", "line 1, column 4"});
    expectParseError("a\nb {% call m() %}x{% endcall %}", ErrorCode::kUnsupported, {"call", "line 2, column 6"});
    expectParseError("{% raw %}{{ x }}{% endraw %}", ErrorCode::kUnsupported, {"raw"});
    expectParseError("{% extends 'base' %}", ErrorCode::kUnsupported, {"extends"});
    expectParseError("{% with a = 1 %}{% endwith %}", ErrorCode::kUnsupported, {"with"});
    expectParseError("{% import 'm' as m %}", ErrorCode::kUnsupported, {"import"});
}

TEST(ChatJinjaErrors, SyntaxErrorsAreBadFileWithPosition) {
    expectParseError("{% frobnicate %}", ErrorCode::kBadFile, {"frobnicate", "line 1"});
    expectParseError("{% if x %}\n  no end", ErrorCode::kBadFile, {"endif"});
    expectParseError("{% for x in y %}", ErrorCode::kBadFile, {"endfor"});
    expectParseError("line 1\nline 2 {{ 'unterminated }}", ErrorCode::kBadFile, {"line 2"});
    expectParseError("{{ x ! y }}", ErrorCode::kBadFile, {"Unexpected character: !", "line 1, column 6"});
    expectParseError("{# never closed", ErrorCode::kBadFile, {"comment"});
    expectParseError("{{ 'bad \\q escape' }}", ErrorCode::kBadFile, {"escaped character"});
    expectParseError("{{ '\\ud800' }}", ErrorCode::kBadFile, {"surrogate"});
    expectParseError("{{ }}", ErrorCode::kBadFile, {"line 1"});
    expectParseError("{% macro m(a, a) %}{% endmacro %}", ErrorCode::kBadFile, {"duplicate parameter"});
    // Columns count characters, not bytes.
    expectParseError("ééé {% bogus %}", ErrorCode::kBadFile, {"line 1, column 8"});
}

TEST(ChatJinjaErrors, UnsupportedFiltersTestsAndMethodsFailAtRender) {
    expectRenderError("{{ messages | wordcount }}", ErrorCode::kUnsupported, {"wordcount", "line 1, column 13"});
    expectRenderError("{{ 3 is divisibleby }}", ErrorCode::kUnsupported, {"divisibleby"});
    expectRenderError("\n{{ 'abc'.center(9) }}", ErrorCode::kUnsupported, {"center", "line 2"});
    expectRenderError("{{ unknown_function(1) }}", ErrorCode::kUnsupported, {"unknown_function"});
    expectRenderError("{{ [1] | map('string') | list }}", ErrorCode::kUnsupported, {"map"});
    expectRenderError("{{ 'a'.split(sep=',') }}", ErrorCode::kUnsupported, {"split", "keyword"});
    expectRenderError("{{ {'a': 1} | tojson(sort_keys=true) }}{{ {'é': 1, 'a': 2} | tojson(sort_keys=true) }}",
                      ErrorCode::kUnsupported, {"sort_keys"});
    expectRenderError("{{ '🚀'[0] }}", ErrorCode::kUnsupported, {"surrogate"});
    expectRenderError("{{ range }}", ErrorCode::kUnsupported, {"function"});
    // A construct in a branch that never runs does not matter, as in the oracle.
    EXPECT_EQ(render("{% if false %}{{ x | wordcount }}{% endif %}ok"), "ok");
}

TEST(ChatJinjaErrors, TypeErrorsAreInvalidArgument) {
    expectRenderError("{{ none + 1 }}", ErrorCode::kInvalidArgument, {"none", "line 1, column 9"});
    expectRenderError("{% for c in 'abc' %}{% endfor %}", ErrorCode::kInvalidArgument, {"loop over a string"});
    expectRenderError("{% set x = 1 %}{% set x.y = 2 %}", ErrorCode::kInvalidArgument, {"namespace"});
    expectRenderError("{% continue %}", ErrorCode::kBadFile, {"outside a loop"});
    expectRenderError("{{ raise_exception('stop: ' ~ messages|length) }}", ErrorCode::kInvalidArgument, {"stop: 2"});
}

TEST(ChatJinjaErrors, VariablesJsonIsValidated) {
    ChatTemplateOptions options;
    options.variables_json = "[1, 2]";
    expectError([&] { render("x", options); }, ErrorCode::kInvalidArgument, {"JSON object"});
    options.variables_json = "{\"messages\": []}";
    expectError([&] { render("x", options); }, ErrorCode::kInvalidArgument, {"messages", "already defined"});
    options.variables_json = "{not json";
    expectError([&] { render("x", options); }, ErrorCode::kInvalidArgument, {"variables_json"});
    options.variables_json = R"({"tools": [{"name": "t", "n": 2.0, "f": 2.5}], "flag": true})";
    EXPECT_EQ(render("{{ tools }}|{{ flag }}|{{ tools[0].n }}", options),
              "[{\"name\": \"t\", \"n\": 2, \"f\": 2.5}]|true|2");
    options.variables_json = std::string(200, '[') + std::string(200, ']');
    options.variables_json = "{\"deep\": " + options.variables_json + "}";
    expectError([&] { render("x", options); }, ErrorCode::kInvalidArgument, {"deep"});
}

// Hostile templates must fail fast, without crashing. The time bound holds for optimized
// builds; unoptimized and sanitizer builds run the same checks many times slower.
template <typename Fn>
void expectFast(Fn&& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    [[maybe_unused]] const auto elapsed = std::chrono::steady_clock::now() - start;
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 20);
#endif
}

TEST(ChatJinjaErrors, DeepNestingIsRejectedNotRecursed) {
    expectFast([] {
        expectParseError("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", ErrorCode::kUnsupported,
                         {"nests deeper"});
        expectParseError("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}", ErrorCode::kUnsupported,
                         {"nests deeper"});
        std::string chain = "{{ x";
        for (int i = 0; i < 200000; ++i) chain += ".a";
        expectParseError(chain + " }}", ErrorCode::kUnsupported, {"nests deeper"});
        std::string filters = "{{ x";
        for (int i = 0; i < 100000; ++i) filters += "|trim";
        expectParseError(filters + " }}", ErrorCode::kUnsupported, {"nests deeper"});
        std::string sum = "{{ 1";
        for (int i = 0; i < 100000; ++i) sum += "+1";
        expectParseError(sum + " }}", ErrorCode::kUnsupported, {"nests deeper"});
        std::string blocks;
        for (int i = 0; i < 3000; ++i) blocks += "{% if true %}";
        for (int i = 0; i < 3000; ++i) blocks += "{% endif %}";
        expectParseError(blocks, ErrorCode::kUnsupported, {"nests deeper"});
        expectParseError("{{ " + std::string(5000, '-') + "x }}", ErrorCode::kUnsupported, {"nests deeper"});
        std::string nots = "{{ ";
        for (int i = 0; i < 5000; ++i) nots += "not ";
        expectParseError(nots + "x }}", ErrorCode::kUnsupported, {"nests deeper"});
    });
}

TEST(ChatJinjaErrors, RunawayRenderingHitsALimit) {
    expectFast([] {
        expectRenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", ErrorCode::kUnsupported, {"nests deeper"});
        expectRenderError("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
                          ErrorCode::kInvalidArgument, {"max_steps"});
        expectRenderError("{% for i in range(1000000000) %}{% endfor %}", ErrorCode::kInvalidArgument, {"range()"});
        expectRenderError(
            "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            ErrorCode::kInvalidArgument, {"max_output_bytes"});
        expectRenderError(
            "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
            ErrorCode::kInvalidArgument, {"items"});
        expectRenderError(
            "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}",
            ErrorCode::kInvalidArgument, {"deeper"});
        expectRenderError("{% for i in range(1000000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
                          ErrorCode::kInvalidArgument, {"max_output_bytes"});
        expectRenderError("{{ 'x' | indent(100000000000) }}", ErrorCode::kInvalidArgument, {"max_output_bytes"});
        expectRenderError(
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s | replace('', ns.s) %}{% endfor %}",
            ErrorCode::kInvalidArgument, {"max_output_bytes"});
    });
}

TEST(ChatJinjaErrors, LimitsFollowTheOptions) {
    ChatTemplateOptions options;
    options.max_steps = 1000;
    expectRenderError("{% for i in range(10000) %}{{ i }}{% endfor %}", ErrorCode::kInvalidArgument, {"1000"}, options);
    options = {};
    options.max_output_bytes = 10;
    expectRenderError("{{ 'more than ten bytes' }}", ErrorCode::kInvalidArgument, {"max_output_bytes"}, options);
    EXPECT_EQ(render("{{ 'ten bytes!' }}", options), "ten bytes!");
}

TEST(ChatJinjaErrors, NamespaceCyclesAreReleased) {
    // The cycle ns -> ns.self -> ns must not leak (LeakSanitizer checks this under ASan).
    expectRenderError("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}", ErrorCode::kInvalidArgument,
                      {"JSON"});
    EXPECT_EQ(render("{% set a = namespace() %}{% set b = namespace(a=a) %}{% set a.b = [b] %}ok"), "ok");
}

TEST(ChatJinjaErrors, OversizedTemplateIsRejected) {
    expectParseError(std::string((1 << 20) + 1, 'x'), ErrorCode::kUnsupported, {"bytes"});
}

}  // namespace
}  // namespace vki::test
