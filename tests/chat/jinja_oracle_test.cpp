// The Jinja interpreter on small templates, feature by feature, compared with
// @huggingface/jinja byte for byte (or failing where it fails).
#include <gtest/gtest.h>

#include "chat/oracle.hpp"

namespace vki::test {
namespace {

std::vector<OracleCase> cases(const std::vector<std::string>& sources, const std::string& variables = "") {
    std::vector<OracleCase> out;
    for (const auto& source : sources) {
        OracleCase c;
        c.label = source;
        c.source = source;
        c.messages = {{"system", "Be nice."}, {"user", "Hello"}, {"assistant", " Hi! "}, {"user", "Bye\n"}};
        c.options.bos_token = "<s>";
        c.options.eos_token = "</s>";
        c.options.variables_json = variables;
        out.push_back(std::move(c));
    }
    return out;
}

void expectAllMatch(const std::vector<std::string>& sources, const std::string& variables = "") {
    const auto all = cases(sources, variables);
    EXPECT_EQ(expectSameAsOracle(all), all.size());
}

TEST(ChatJinja, NumbersPrintLikeJavaScript) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ 1 }}|{{ 1.0 }}|{{ -0.0 }}|{{ 1.5 }}|{{ 0.1 + 0.2 }}|{{ 1 / 3 }}|{{ 10 / 2 }}|{{ 2.50 }}",
        "{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7.5 % 2 }}|{{ 7.0 // 2 }}",
        "{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 2 ** 0.5 }}|{{ 2 ** 70 }}|{{ 2.0 ** 70 }}|{{ 10 ** 21 }}|{{ 10.0 ** 21 }}",
        "{{ 123456789 * 1000000000000 }}|{{ 0.000001 }}|{{ 0.0000001 }}|{{ 1 / 0 }}|{{ -1 / 0 }}|{{ 1 // 0 }}",
        "{{ 5 % 0 }}|{{ 0.0 / 0 }}|{{ 1e3 if false else 3 }}|{{ -5 }}|{{ - 5 }}|{{ -2.5 }}|{{ 3 - -2 }}",
        "{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 3 ** 2 }}|{{ 10 - 2 - 3 }}|{{ 100 / 10 / 5 }}",
        "{{ [1, 2.0, 2.5, -0.0, 1 / 3] }}|{{ {'x': 1.0} }}|{{ 1.0 ~ '' }}|{{ 3 * 1.0 }}|{{ 4 / 2 * 2 }}",
    });
}

TEST(ChatJinja, LiteralsAndPrinting) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ true }}|{{ false }}|{{ none }}|{{ True }}|{{ False }}|{{ None }}|{{ undefined_var }}",
        "{{ [1, 'a', none, true, 2.0, [3]] }}|{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }}|{{ [] }}|{{ {} }}",
        "{{ 'a\\nb\\t\\u00e9\\x41\\\\' }}|{{ \"it's\" }}|{{ 'say \"hi\"' }}|{{ 'con' 'cat' \"enated\" }}",
        "{{ '\\ud83d\\ude00' }}|{{ 'é日本🚀' }}|{{ '' }}|{{ \"\" }}",
        "{% set d = {'b': 1, 'a': 2, 'b': 3} %}{{ d }}|{{ d.keys()|list }}|{{ d.values() }}|{{ d.items() }}",
        "{{ (1, 2)|length }}|{{ (1,)|length }}|{{ ((1, 2))[0] }}|{{ [1, 2,] }}|{{ {'a': 1,} }}",
        "{{ 'a' ~ 1 ~ 1.0 ~ true ~ [1, 2] ~ [[1, 'x']] ~ {'k': 1} }}|{{ 'a' + 1 }}|{{ 1.5 + 'b' }}|{{ [1] + [2, 3] }}",
        "{{ [1, none, 'x', undefined_v, 2.0] ~ '' }}|{{ [none, undefined_v, none]|unique|length }}|{{ none in "
        "[undefined_v] "
        "if false }}|{{ messages[0].get('x') is none }}",
    });
}

TEST(ChatJinja, ComparisonsAndLogic) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ 1 == 1.0 }}|{{ '1' == 1 }}|{{ ' 1 ' == 1 }}|{{ '0x10' == 16 }}|{{ '' == 0 }}|{{ true == 1 }}|{{ 2 == true "
        "}}",
        "{{ none == undefined_x }}|{{ none == 0 }}|{{ [] == [] }}|{{ messages == messages }}|{{ [1, 2] == '1,2' }}",
        "{{ messages[0] == messages[0] }}|{{ {} == {} }}|{{ 'a' != 'b' }}|{{ [1] == 1 }}|{{ true == 'true' }}",
        "{{ 1 < 2 }}|{{ 2 >= 2.0 }}|{{ 3 > 4 }}|{{ 1 <= 0 }}|{{ 1 != 1.0 }}",
        "{{ 'a' in 'cat' }}|{{ 'x' not in 'cat' }}|{{ 1 in [1, 2] }}|{{ 1.0 in [1] }}|{{ '1' in [1] }}",
        "{{ 'k' in {'k': 1} }}|{{ 'z' in undefined_var }}|{{ 'z' not in undefined_var }}|{{ 'a' not in ['a'] }}",
        "{{ 1 and 'x' }}|{{ 0 or 'y' }}|{{ not 0 }}|{{ not not 'a' }}|{{ [] or 'empty' }}|{{ none or 0 }}",
        "{{ 'a' if 1 > 2 else 'b' }}|{{ 'kept' if true }}|{{ 'dropped' if false }}|{{ 1 if false else 2 if false else "
        "3 }}",
        "{{ not 1 == 2 }}|{{ not (1 == 2) }}|{{ 1 == 2 or 3 == 3 and false }}|{{ {} and 1 }}|{{ namespace() and 1 }}",
        "{% set x = 5 %}{{ -x }}|{{ +x }}|{{ - -x }}|{{ -(x) }}|{{ x-1 }}|{{ x - -1 }}|{{ -true }}",
    });
}

TEST(ChatJinja, MembersIndexingAndSlicing) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ messages[0].role }}|{{ messages[0]['content'] }}|{{ messages.0.role }}|{{ messages[-1].content }}",
        "{{ messages[0].missing }}|{{ messages[0].missing.deeper }}|{{ messages|length }}|{{ messages.length }}",
        "{{ 'abc'[0] }}{{ 'abc'[-1] }}{{ 'abc'[5] }}|{{ 'héllo'[1] }}|{{ 'abc'.length }}|{{ messages[9] }}",
        "{{ [1, 2, 3][1:] }}|{{ [1, 2, 3][::-1] }}|{{ 'hello'[1:3] }}|{{ 'hello'[::2] }}|{{ [1, 2, 3, 4][-2:] }}",
        "{{ messages[1:]|length }}|{{ [1, 2, 3][5:] }}|{{ [1, 2, 3][-1:-5:-1] }}|{{ [1, 2, 3][:-1] }}|{{ 'a🚀b'[::-1] "
        "}}",
        "{{ [1, 2, 3, 4, 5][1:4:2] }}|{{ [1, 2, 3][::0] }}|{{ [1, 2, 3][2:0:-1] }}|{{ 'abc'[-2:] }}|{{ (1, 2, 3)[1:] "
        "}}",
        "{% set d = {'a': {'b': [10, 20]}} %}{{ d.a.b[1] }}|{{ d['a']['b'][-1] }}|{{ d.get('a').b }}|{{ d.x.y.z }}",
    });
}

TEST(ChatJinja, LoopVariablesAndControl) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/"
        "{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem.role }}/{{ loop.nextitem.role }};"
        "{% endfor %}",
        "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}/{{ loop.length }} {% endfor %}",
        "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}no{% endfor %}",
        "{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}"
        "{% endfor %}",
        "{% for x in range(3) %}a{% if x == 1 %}{% continue %}{% endif %}b{% endfor %}",
        "{% for x in range(3) %}{% break %}{% else %}else after break{% endfor %}",
        "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}|{% for k, v in {'x': 1, 'y': 2}.items() %}{{ k "
        "}}{{ v }}"
        "{% endfor %}",
        "{% for x in range(2) %}{% for y in range(3) %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}",
        "{% for x in range(1, 10, 3) %}{{ x }},{% endfor %}|{% for x in range(5, 0, -2) %}{{ x }},{% endfor %}"
        "|{{ range(3) }}|{{ range(0) }}|{{ range(2, 0) }}|{{ range(0.5, 3) }}",
        "{% set total = 0 %}{% for x in [1, 2] %}{% set total = total + x %}{% endfor %}{{ total }}",
        "{% for x in [1] %}{% set inner = 'i' %}{% endfor %}[{{ inner }}]|{% if true %}{% set outer = 'o' %}{% endif %}"
        "{{ outer }}",
        "{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}|{% for x in [1, 2, 3] %}{% if loop.first %}first"
        "{% elif loop.last %}last{% else %}mid{% endif %} {% endfor %}",
        "{% for m in messages %}{% for c in m.content.split() %}{{ c }}.{% endfor %}{% endfor %}",
    });
}

TEST(ChatJinja, WhitespaceControlAndEnvironment) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "a  {%- if true %} b {% endif -%}  c",
        "  {% if true %}\n  x\n  {% endif %}\n  y\n",
        "{{- ' a ' -}}  \n  {{ 'b' }}   {#- comment -#}   c {# keep #} d",
        "line1\n{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\nend\n",
        "x {{- 'y' }} \n\t{{- 'z' -}}\n\n w",
        "{%- set x = 1 -%}\n\n  {{ x }}  \n",
        "{# only a comment #}",
        "text {# multi\nline #} more\n\n",
        "  {#- c #}x\n    {# d -#}\n  y",
        "{% if true %}\r\nx\r\n{% endif %}\r\n",
        "a\n    {%- if true %}\n    b\n    {%- endif %}\nc",
        "\t{% for x in [1, 2] %}\n\t\t{{ x }}\n\t{% endfor %}\n",
        "{% if true %}{% generation %}kept{% endgeneration %}{% endif %}|a {%- generation %} b {% endgeneration -%} c",
        "50%}\nliteral percent-brace|{{ '#}\n' }}|{{ '-}' }}\n|x",
        "{{ '{{ not a tag }}' }}|{{ '{% if %}' }}|{ single brace }|{{ {'a': {'b': 1}} }}",
    });
}

TEST(ChatJinja, Filters) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ '  x  '|trim }}|{{ 'abc'|upper }}|{{ 'ABC'|lower }}|{{ 'hello world'|title }}|{{ 'hello'|capitalize }}",
        "{{ 'abc'|length }}|{{ [1, 2]|length }}|{{ {'a': 1}|length }}|{{ '🚀'|length }}|{{ 'é'|length }}",
        "{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ [1, 2, 3]|reverse }}",
        "{{ ['b', 'A', 'a']|sort(case_sensitive=true) }}|{{ messages|sort(attribute='role')|map(attribute='role')|join "
        "}}",
        "{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}|{{ [1, 1, 2, '1', 1.0]|unique }}|{{ [1, 2]|list }}|{{ 'ab'|list }}",
        "{{ ['a', 'b']|join }}|{{ ['a', 'b']|join(', ') }}|{{ [1, none, 'x', 2.0, true, [1, 2]]|join('-') }}|{{ "
        "'abc'|join('.') }}",
        "{{ 'x'|default('d') }}|{{ undefined_var|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}"
        "|{{ none|default('d') }}|{{ undefined_var|default }}|{{ 0|default(5, boolean=true) }}",
        "{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ -3.9|int }}|{{ ' 12abc'|int }}",
        "{{ '3.5'|float }}|{{ 2|float }}|{{ true|int }}|{{ '1e3'|float }}|{{ '-.5x'|float }}|{{ 'x'|float(1.5) }}|{{ "
        "2.5|int(0) }}",
        "{{ 1|string }}|{{ 1.0|string }}|{{ true|string }}|{{ [1, 'a']|string }}|{{ 'x'|string }}|{{ -5|abs }}|{{ "
        "-2.5|abs }}",
        "{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '.') }}|"
        "{{ 'xyz'.replace('y', 'Y') }}|{{ 'aaaa'.replace('a', 'b', count=1) }}|{{ 'aé🚀'.replace('', '|', 2) }}",
        "{{ messages|tojson }}|{{ {'a': [1, 2.5, none, true, 'é\"\\n\\u0001']}|tojson }}|{{ "
        "messages[0]|tojson(indent=2) }}",
        "{{ [1, [2, {}], [], {'k': []}]|tojson(indent=4) }}|{{ {'b': 1, 'a': 2, 'B': 3, '_': 0, 'a1': "
        "4}|tojson(sort_keys=true) }}",
        "{{ 'é😀\\u007f'|tojson(ensure_ascii=true) }}|{{ {'a': 1, 'b': 2}|tojson(separators=(',', ':')) }}|"
        "{{ undefined_var|tojson }}|{{ 3.0|tojson }}|{{ 'x'|tojson(4) }}|{{ [1, 2]|tojson(indent=0) }}",
        "{{ 'line1\\nline2\\n\\nline4'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(width=3, "
        "blank=true) }}",
        "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|"
        "{{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='role')|join(',') }}",
        "{{ messages|map(attribute='missing', default='d')|list }}|{{ messages|selectattr('content')|list|length }}",
        "{{ {'b': 2, 'a': 1}|dictsort }}|{{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}|{{ {'x': 1}|items }}"
        "|{{ {'x': 1}|keys }}|{{ {'B': 1, 'a': 2}|dictsort(true) }}",
        "{% filter upper %}shout {{ messages[0].role }}{% endfilter %}|{% filter replace('a', 'o') %}banana{% "
        "endfilter %}",
        "{{ 'abc'|safe }}|{{ [1]|safe }}|{{ true|bool }}|{{ false|float }}",
    });
}

TEST(ChatJinja, TestsAndStringMethods) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ x is defined }}|{{ messages is defined }}|{{ none is none }}|{{ 'a' is string }}|{{ 1 is number }}",
        "{{ 1.5 is integer }}|{{ 2 is even }}|{{ 3 is odd }}|{{ {} is mapping }}|{{ [] is iterable }}|{{ 'a' is "
        "iterable }}",
        "{{ (1, 2) is iterable }}|{{ (1, 2) is sequence }}|{{ true is boolean }}|{{ false is false }}|{{ true is true "
        "}}",
        "{{ range is callable }}|{{ 'abc' is lower }}|{{ 'ABC' is upper }}|{{ 1 is lower }}|{{ x is undefined }}",
        "{{ 1 is not none }}|{{ x is not defined }}|{{ namespace() is mapping }}|{{ messages[0] is mapping }}",
        "{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ '  x  y '.split(none, 1) }}",
        "{{ 'a-b-c'.split('-', 0) }}|{{ 'a-b-c'.split('-', -2) }}|{{ ' \\u3000x\\u00a0y '.split() }}",
        "{{ 'abc'.startswith('a') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'abc'.startswith(['b']) }}|{{ "
        "'a'.endswith('abc') }}",
        "{{ '  p  '.strip() }}|{{ '  p  '.lstrip() }}|{{ '  p  '.rstrip() }}|{{ '\\n\\tp\\u2003'.strip() }}|{{ "
        "'xpx'.strip('x') }}",
        "{{ 'Mixed Case'.upper() }}|{{ 'Mixed Case'.lower() }}|{{ 'hello there'.title() }}|{{ 'o_k x9y-z éa'.title() "
        "}}",
        "{{ 'élan'.capitalize() }}|{{ 'ßtraße'.upper() }}|{{ 'ΣΊΣΥΦΟΣ ΟΔΟΣ'.lower() }}|{{ 'İ'.lower()|length }}|{{ "
        "''.capitalize() }}",
    });
}

TEST(ChatJinja, SetNamespacesAndMacros) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set c, d = [3, 4] %}{{ c }}{{ d }}|{% set e = 1, 2 %}{{ e|length }}",
        "{% set ns = namespace(count=0) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ "
        "ns.count }}",
        "{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]|{% set ns = namespace(a=1, b=[1]) %}{{ ns }}",
        "{% set n2 = namespace({'a': 1}) %}{{ n2.a }}|{% set n3 = namespace([['k', 'v'], 'xy']) %}{{ n3.k }}{{ n3.x }}",
        "{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.found = true "
        "%}"
        "{% endif %}{% endfor %}{{ ns.found }}|{{ ns.missing }}",
        "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', "
        "'?') }}"
        " {{ greet(name='C') }} {{ greet() }}",
        "{% macro f() %}{{ varargs|length }}/{{ kwargs }}{% endmacro %}{{ f(1, 2, k=3) }}|{{ f() }}",
        "{% macro render(m) %}<{{ m.role }}>{{ m.content|trim }}{% endmacro %}{% for m in messages %}{{ render(m) }}"
        "{% endfor %}",
        "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}",
        "{% macro dyn() %}{{ captured }}{% endmacro %}{% set captured = 'dynamic' %}{{ dyn() }}",
        "{% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }}|{{ m(*['p', 'q']) }}|{{ m(**{'a': 'k'}) "
        "}}",
        "{{ raise_exception is defined }}|{{ strftime_now('%Y-%m-%d %b %B %% %Q') }}",
        "{% set v = [] | first %}{{ v is defined }}[{{ v }}]|{% set ns = namespace() %}{% set ns.l = [] | last %}"
        "{{ ns.l is defined }}[{{ ns.l }}]|{% set w = false or [] | first %}{{ w }}|{% set u = [] | last if true %}{{ "
        "u }}",
    });
}

// Templates the oracle rejects are rejected here too (any error on both sides counts).
TEST(ChatJinja, ErrorsOnBothSides) {
    VKI_REQUIRE_ORACLE();
    expectAllMatch({
        "{{ 1e3 }}",
        "{{ 'ab' * 2 }}",
        "{{ x.y() }}",
        "{% for c in 'abc' %}{% endfor %}",
        "{{ none + 1 }}",
        "{{ undefined_var + 1 }}",
        "{{ 'a' < 'b' }}",
        "{{ (1, 2) }}",
        "{{ [] | first }}",
        "{{ ([] | last) is defined }}",
        "{% if [] | first %}{% endif %}",
        "{% set ns = namespace() %}{% set ns.l = [] | last %}{{ ns }}",
        "{{ raise_exception('custom ' ~ 42) }}",
        "{{ raise_exception(none) }}",
        "{{ raise_exception() }}",
        "{{ raise_exception([1, none]) }}",
        "{% if %}{% endif %}",
        "{% endif %}",
        "{{ messages[0]['role'] }",
        "{% for x in [1] %}",
        "{{ 'unterminated }}",
        "{# unterminated",
        "{{ x | nosuchfilter }}",
        "{{ x is nosuchtest }}",
        "{{ {'a': 1}.nope() }}",
        "{% set x.y = 1 %}",
        "{{ 1 | upper }}",
        "{{ [1, 2] | trim }}",
        "{{ 'a' 'b' + }}",
        "{{ 'bad escape \\q' }}",
        "{% break %}",
        "{{ [1, 2] | map('upper') | list }}",
        "{{ {1: 2} }}",
        "{{ 'abc'[1.0] }}",
        "{{ 0 ** -1 }}",
        "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
        "{{ 'x'.split('') }}",
        "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
        "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}",
        "{{ range(0, 5, 0) }}",
        "{% set ns = namespace() %}{% set ns.self = ns %}{{ ns|tojson }}",
    });
}

}  // namespace
}  // namespace vki::test
