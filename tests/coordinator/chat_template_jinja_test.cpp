// The Jinja subset of coordinator/chat/, construct by construct. Expected outputs of the table below were
// produced by jinja2 3.1 configured as HF transformers configures it (trim_blocks, lstrip_blocks, loopcontrols,
// HF's tojson and raise_exception), so each row is what apply_chat_template would print for that source.
// Errors (unsupported constructs at parse time, syntax errors, runtime errors) are checked after the table.
#include <ctime>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/chat/chat_template.h"

namespace mixserve {
namespace {

using nlohmann::ordered_json;

// Renders `source` with `vars` as template variables; a "messages" entry becomes the messages argument.
Result<std::string> run(const std::string& source, ordered_json vars = ordered_json::object()) {
  auto tmpl = ChatTemplate::parse(source);
  if (!tmpl.ok()) return tmpl.status();
  ordered_json messages = ordered_json::array();
  if (vars.contains("messages")) {
    messages = vars["messages"];
    vars.erase("messages");
  }
  return tmpl->render(messages, /*add_generation_prompt=*/false, vars);
}

struct Case {
  const char* name;
  const char* source;
  const char* vars;  // JSON object
  const char* expected;
};

const Case kCases[] = {
    {"text_passthrough",
     "plain text with { braces } and % signs",
     "{}",
     "plain text with { braces } and % signs"},
    {"print_literals",
     "{{ 1 }}|{{ -2 }}|{{ 1.5 }}|{{ true }}|{{ False }}|{{ none }}|{{ 'a' }}|{{ \"b\" }}",
     "{}",
     "1|-2|1.5|True|False|None|a|b"},
    {"print_float_repr",
     "{{ 1e-5 }}|{{ 1e16 }}|{{ 0.1 + 0.2 }}|{{ 2.0 }}|{{ 1_000 }}|{{ 123456789.125 }}|{{ 1e300 * 10 }}",
     "{}",
     "1e-05|1e+16|0.30000000000000004|2.0|1000|123456789.125|1e+301"},
    {"print_containers",
     "{{ [1, 'a', none, true, 2.5] }}|{{ {'k': 'v', 'n': [1]} }}|{{ (1,) }}|{{ (1, 'x') }}|{{ [] }}",
     "{}",
     "[1, 'a', None, True, 2.5]|{'k': 'v', 'n': [1]}|(1,)|(1, 'x')|[]"},
    {"repr_quotes",
     "{{ [\"it's\", 'say \"hi\"', 'tab\\tnew\\nline', 'back\\\\slash'] }}",
     "{}",
     "[\"it's\", 'say \"hi\"', 'tab\\tnew\\nline', 'back\\\\slash']"},
    {"string_escapes",
     "{{ 'a\\nb' }}|{{ '\\u00e9\\x41\\101' }}|{{ 'q\\'s' }}|{{ 'x' 'y' \"z\" }}|{{ 'keep \\d' }}",
     "{}",
     "a\nb|éAA|q's|xyz|keep \\d"},
    {"print_tuple_implicit",
     "{{ 1, 'a' }}",
     "{}",
     "(1, 'a')"},
    {"comment_removed",
     "a{# a comment {{ not printed }} #}b",
     "{}",
     "ab"},
    {"comment_trim_blocks",
     "{# c #}\nx",
     "{}",
     "x"},
    {"comment_minus",
     "a   {#- c -#}   b",
     "{}",
     "ab"},
    {"explicit_strip",
     "a  {{- 'b' -}}  c|  {%- if true -%}  d  {%- endif -%}  |",
     "{}",
     "abc|d|"},
    {"trim_blocks",
     "{% if true %}\nx\n{% endif %}\ny",
     "{}",
     "x\ny"},
    {"lstrip_blocks",
     "  {% if true %}\n  x\n  {% endif %}\nend",
     "{}",
     "  x\nend"},
    {"lstrip_tabs",
     "\t \t{% if true %}in{% endif %}",
     "{}",
     "in"},
    {"lstrip_not_for_print",
     "  {{ 'x' }}\n",
     "{}",
     "  x"},
    {"lstrip_only_at_line_start",
     "a  {% if true %}b{% endif %}",
     "{}",
     "a  b"},
    {"lstrip_after_block_newline",
     "{% if true %}\n    {% if true %}y{% endif %}\n{% endif %}",
     "{}",
     "y"},
    {"plus_disables_lstrip",
     "  {%+ if true %}x{% endif %}",
     "{}",
     "  x"},
    {"plus_disables_trim",
     "{% if true +%}\nx{% endif %}",
     "{}",
     "\nx"},
    {"trailing_newline_dropped",
     "x\n",
     "{}",
     "x"},
    {"only_one_trailing_newline_dropped",
     "x\n\n",
     "{}",
     "x\n"},
    {"crlf_normalized",
     "a\015\nb\015c",
     "{}",
     "a\nb\nc"},
    {"print_end_keeps_newline",
     "{{ 'a' }}\nb",
     "{}",
     "a\nb"},
    {"minus_strips_newlines_before",
     "a\n\n  {%- if true %}b{% endif %}",
     "{}",
     "ab"},
    {"braces_inside_string",
     "{{ '}}' }}|{{ \"%}\" }}|{% if '%}' %}ok{% endif %}",
     "{}",
     "}}|%}|ok"},
    {"dict_literal_closing_braces",
     "{{ {'a': {'b': 1}} }}",
     "{}",
     "{'a': {'b': 1}}"},
    {"if_elif_else",
     "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %},{% endfor %}",
     "{}",
     "one,two,many,"},
    {"loop_vars",
     "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "{}",
     "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|"},
    {"loop_prev_next",
     "{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }};{% endfor %}",
     "{}",
     "<1>2;1<2>3;2<3>;"},
    {"for_else",
     "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}|{% for x in undefined_list %}{{ x }}{% else %}undef{% endfor %}",
     "{}",
     "empty|undef"},
    {"for_filter",
     "{% for x in [1, 2, 3, 4, 5] if x is odd %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}",
     "{}",
     "1/3:1 2/3:3 3/3:5 "},
    {"for_unpack_items",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}",
     "{\"d\": {\"z\": 1, \"a\": 2}}",
     "z=1;a=2;za"},
    {"for_dict_keys_and_string",
     "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé!' %}[{{ c }}]{% endfor %}",
     "{\"d\": {\"z\": 1, \"a\": 2}}",
     "za|[h][é][!]"},
    {"break_continue",
     "{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "{}",
     "023"},
    {"nested_loop_shadowing",
     "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}",
     "{}",
     "1x2y1;1x2y2;"},
    {"loop_scope_does_not_leak",
     "{% set c = 0 %}{% for i in [1, 2, 3] %}{% set c = c + i %}{% endfor %}{{ c }}",
     "{}",
     "0"},
    {"each_iteration_starts_from_outer",
     "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}",
     "{}",
     "12121"},
    {"namespace_counter",
     "{% set ns = namespace(n=0, seen=false) %}{% for i in range(3) %}{% set ns.n = ns.n + 1 %}{% set ns.seen = true %}{% endfor %}{{ ns.n }} {{ ns.seen }} {{ ns.missing is defined }}",
     "{}",
     "3 True False"},
    {"namespace_empty_then_set",
     "{% set ns = namespace() %}{% set ns.index = 0 %}{% for m in messages %}{% set ns.index = ns.index + 1 %}{% endfor %}{{ ns.index }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "3"},
    {"set_in_if_is_global",
     "{% if true %}{% set y = 'set' %}{% endif %}{{ y }}",
     "{}",
     "set"},
    {"set_tuple_and_block",
     "{% set a, b = 1, 2 %}{{ a + b }}|{% set blk %}x{{ a }}y{% endset %}{{ blk }}{{ blk | length }}",
     "{}",
     "3|x1y3"},
    {"set_overrides_context",
     "{% set messages = messages[1:] %}{{ messages | length }}{{ messages[0].role }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "2user"},
    {"arithmetic",
     "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2.0 }} {{ 'ab' * 2 }} {{ 3 - true }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
     "{}",
     "3 -4 1 2 3.5 1024 3.0 abab 2 3.0 0.5"},
    {"precedence",
     "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 * 3 ~ 4 }} {{ not true or true }} {{ not (true or true) }}",
     "{}",
     "7 9 4 64 True False"},
    {"concat",
     "{{ 'a' ~ 1 ~ none ~ undefined_thing ~ [1] }}",
     "{}",
     "a1None[1]"},
    {"list_concat",
     "{{ [1] + [2] }}|{{ (messages[1:] + messages[:1]) | length }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "[1, 2]|3"},
    {"comparisons",
     "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }} {{ none == none }} {{ 'a' != 'a' }}",
     "{}",
     "True False True True True True True True False"},
    {"in_operator",
     "{{ 'a' in 'cat' }} {{ 'x' not in ['a'] }} {{ 'k' in {'k': 1} }} {{ 2 in [1, 2] }} {{ 'role' in messages[0] }} {{ 'tool_calls' in messages[0] }} {{ 'x' in undefined_thing }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "True True True True True False False"},
    {"and_or_return_operands",
     "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ none or [] }}|{{ '' and 1 }}|{{ undefined_thing or 'dflt' }}",
     "{}",
     "x|b|[]||dflt"},
    {"ternary",
     "{{ 'y' if true else 'n' }}|{{ 'y' if false }}|{{ 'a' if false else 'b' if true else 'c' }}",
     "{}",
     "y||b"},
    {"truthiness",
     "{% for v in [0, 1, '', 'x', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %}",
     "{}",
     "FTFTFTFFF"},
    {"subscript_and_attribute",
     "{{ messages[0]['role'] }}|{{ messages[0].role }}|{{ messages[-1].content }}|{{ messages[1]['missing'] }}|{{ messages[5] }}|{{ d.a.b }}|{{ d['a']['b'] }}|{{ lst.1 }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}], \"d\": {\"a\": {\"b\": \"deep\"}}, \"lst\": [\"x\", \"y\"]}",
     "system|system|yo|||deep|deep|y"},
    {"none_attribute_is_undefined",
     "[{{ n.anything }}]{{ n.anything is defined }}",
     "{\"n\": null}",
     "[]False"},
    {"slices",
     "{{ messages[1:] | length }}|{{ 'hello'[1:-1] }}|{{ 'héllo'[::-1] }}|{{ [1, 2, 3, 4][::2] }}|{{ [1, 2, 3][5:] }}|{{ 'abc'[-10:2] }}|{{ 'abc'[1] }}{{ '日本'[-1] }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "2|ell|olléh|[1, 3]|[]|ab|b本"},
    {"undefined_prints_empty",
     "[{{ nothing }}][{{ nothing | length }}][{{ nothing | trim }}][{{ nothing | default('d') }}][{{ nothing == nothing }}][{{ nothing is iterable }}]",
     "{}",
     "[][0][][d][True][True]"},
    {"tools_and_documents_are_none",
     "{{ tools is defined }} {{ tools is none }} {{ documents is none }} {% if not tools %}no tools{% endif %}",
     "{}",
     "True True True no tools"},
    {"add_generation_prompt_var",
     "{{ add_generation_prompt }}",
     "{}",
     "False"},
    {"tests",
     "{{ 1 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is mapping }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ [] is sequence }}{{ true is boolean }}{{ none is none }}{{ 1 is not none }}",
     "{}",
     "TrueTrueTrueFalseTrueTrueTrueFalseTrueFalseTrueTrueTrueTrue"},
    {"tests_with_args",
     "{{ 4 is divisibleby 2 }}{{ 4 is divisibleby(3) }}{{ false is sameas false }}{{ 3 is odd }}{{ 3 is even }}{{ 'a' is eq 'a' }}{{ 2 is in [1, 2] }}{{ 2 is gt 1 }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'a' is ne 'b' }}{{ raise_exception is callable }}",
     "{}",
     "TrueFalseTrueTrueFalseTrueTrueTrueTrueTrueTrueTrue"},
    {"defined_tests",
     "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ x.z is defined }}{{ strftime_now is defined }}",
     "{\"x\": {}}",
     "TrueFalseTrueFalseTrue"},
    {"trim_filter",
     "[{{ '  a b \\n\\t' | trim }}][{{ s | trim }}][{{ 'xxaxx' | trim('x') }}][{{ none | trim }}][{{ 12 | trim }}]",
     "{\"s\": \"　  wide   \"}",
     "[a b][wide][a][None][12]"},
    {"length_filter",
     "{{ 'hé日🌍' | length }} {{ [1, 2] | length }} {{ {'a': 1} | count }} {{ messages | length }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "4 2 1 3"},
    {"case_filters",
     "{{ 'Hello World' | upper }} {{ 'Hello World' | lower }} {{ 'hello wORLD' | title }} {{ 'hELLO' | capitalize }}",
     "{}",
     "HELLO WORLD hello world Hello World Hello"},
    {"tojson_filter",
     "{{ d | tojson }}|{{ 'q\"\\\\\\né🌍\\x01' | tojson }}|{{ [1, 2.5, none, true] | tojson }}|{{ {} | tojson }}|{{ [] | tojson(indent=2) }}",
     "{\"d\": {\"b\": 1, \"a\": [1, {\"x\": null}]}}",
     "{\"b\": 1, \"a\": [1, {\"x\": null}]}|\"q\\\"\\\\\\né🌍\\u0001\"|[1, 2.5, null, true]|{}|[]"},
    {"tojson_indent",
     "{{ d | tojson(indent=4) }}\n{{ d | tojson(indent=2, sort_keys=true) }}",
     "{\"d\": {\"b\": 1, \"a\": [1, {\"x\": null, \"y\": []}]}}",
     "{\n    \"b\": 1,\n    \"a\": [\n        1,\n        {\n            \"x\": null,\n            \"y\": []\n        }\n    ]\n}\n{\n  \"a\": [\n    1,\n    {\n      \"x\": null,\n      \"y\": []\n    }\n  ],\n  \"b\": 1\n}"},
    {"default_filter",
     "{{ x | default('dx') }}|{{ '' | default('de') }}|{{ '' | default('db', true) }}|{{ none | d('dn', boolean=true) }}|{{ 0 | default(5) }}",
     "{}",
     "dx||db|dn|0"},
    {"first_last_join",
     "{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ 'abc' | first }}|{{ [1, 2, 3] | join(', ') }}|{{ messages | join('/', attribute='role') }}|{{ [] | first }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "13a|1, 2, 3|system/user/assistant|"},
    {"replace_string_int_float",
     "{{ 'aaa' | replace('a', 'b', 2) }}|{{ 1.5 | string }}{{ [1] | string }}|{{ '42' | int + 1 }}|{{ ' 7 ' | int }}|{{ '3.9' | int }}|{{ 'x' | int }}|{{ 'x' | int(9) }}|{{ 2.7 | int }}|{{ '2.5' | float }}|{{ true | int }}",
     "{}",
     "bba|1.5[1]|43|7|3|0|9|2|2.5|1"},
    {"list_reverse_items",
     "{{ 'ab' | list }}|{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}|{{ {'a': 1} | items | list }}|{{ nothing | items | list }}",
     "{}",
     "['a', 'b']|[3, 2, 1]|cba|[('a', 1)]|[]"},
    {"select_reject",
     "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }}|{{ [1, 0, 2, none] | select | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'code_interpreter', 'b'] | reject('equalto', 'code_interpreter') | join(', ') }}|{{ messages | selectattr('missing') | list }}|{{ [1, 2, 3] | select('gt', 1) | list }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "1|system,assistant|[1, 2]|[2, 4]|a, b|[]|[2, 3]"},
    {"map_filter",
     "{{ ['a', 'b'] | map('upper') | join }}|{{ messages | map(attribute='content') | list }}|{{ messages | map(attribute='nope', default='-') | join }}|{{ tools | map(attribute='function.name') | list }}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}], \"tools\": [{\"function\": {\"name\": \"f1\"}}, {\"function\": {\"name\": \"f2\"}}]}",
     "AB|['sys', 'hi', 'yo']|---|['f1', 'f2']"},
    {"abs_filter",
     "{{ -3 | abs }} {{ -2.5 | abs }} {{ (-3) | abs }}",
     "{}",
     "3 2.5 3"},
    {"str_methods",
     "[{{ '  x  '.strip() }}][{{ 'xxaxx'.lstrip('x') }}][{{ 'xxaxx'.rstrip('x') }}][{{ s.strip() }}]{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a,b,c'.split(',', 1) }}{{ 'hello'.startswith('he') }}{{ 'hello'.startswith(('x', 'h')) }}{{ 'hello'.endswith('lo') }}{{ 'a-b'.replace('-', '+') }}{{ 'hi there'.title() }}{{ 'hI'.capitalize() }}{{ 'ab'.upper() }}{{ 'AB'.lower() }}{{ ', '.join(['a', 'b']) }}",
     "{\"s\": \" in　\"}",
     "[x][axx][xxa][in]['a', 'b', '', 'c']['a', 'b']['a', 'b,c']TrueTrueTruea+bHi ThereHiABaba, b"},
    {"dict_methods",
     "{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}",
     "{\"d\": {\"a\": 1, \"b\": \"two\"}}",
     "[('a', 1), ('b', 'two')]|['a', 'b']|[1, 'two']|1|dflt|None"},
    {"split_think",
     "{% set content = '<think>x</think>answer' %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{ content }}",
     "{}",
     "answer"},
    {"globals",
     "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(3, 0, -1) | list }}|{{ dict(a=1, b='x') }}|{{ namespace(a=1).a }}",
     "{}",
     "[0, 1, 2][1, 3, 5][3, 2, 1]|{'a': 1, 'b': 'x'}|1"},
    {"dict_literal_tojson",
     "{{ {\"name\": f.name, \"arguments\": f.args, \"id\": 7} | tojson }}",
     "{\"f\": {\"name\": \"get\", \"args\": {\"city\": \"Paris\"}}}",
     "{\"name\": \"get\", \"arguments\": {\"city\": \"Paris\"}, \"id\": 7}"},
    {"generation_block",
     "a{% generation %}b{{ 1 }}{% endgeneration %}c",
     "{}",
     "ab1c"},
    {"bos_and_special_tokens",
     "{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ pad_token }}",
     "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}",
     "<s>|</s>||"},
    {"messages_attribute_forms",
     "{% for message in messages %}{{ message['role'] }}:{{ message.content }}{% if not loop.last %},{% endif %}{% endfor %}",
     "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "system:sys,user:hi,assistant:yo"},
};

TEST(ChatTemplateJinja, RendersLikeJinja2WithHfSettings) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    auto out = run(c.source, ordered_json::parse(c.vars));
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(*out, c.expected) << "source: " << c.source;
  }
}

// --- constructs outside the subset: rejected by parse(), naming the construct and its line ---

void expect_unsupported(const std::string& source, const std::string& construct, int line) {
  auto tmpl = ChatTemplate::parse(source);
  ASSERT_FALSE(tmpl.ok()) << source;
  EXPECT_EQ(tmpl.status().code(), StatusCode::unsupported) << tmpl.status().to_string();
  EXPECT_EQ(tmpl.status().message(),
            "unsupported Jinja construct '" + construct + "' at line " + std::to_string(line));
}

TEST(ChatTemplateJinja, UnsupportedConstructsFailAtParseTimeWithTheirLine) {
  expect_unsupported("line 1\n{% if true %}\n{% macro m() %}x{% endmacro %}\n{% endif %}", "{% macro %}", 3);
  expect_unsupported("{{ messages | sort }}", "|sort", 1);
  expect_unsupported("a\n\n{{ x is escaped }}", "is escaped", 3);
  expect_unsupported("{{ 'a {}'.format(1) }}", ".format()", 1);
  expect_unsupported("{{ cycler('a', 'b') }}", "cycler()", 1);
  expect_unsupported("{% include 'other.jinja' %}", "{% include %}", 1);
  expect_unsupported("{% extends 'base' %}", "{% extends %}", 1);
  expect_unsupported("x\n{% raw %}{{ not parsed }}{% endraw %}", "{% raw %}", 2);
  expect_unsupported("{% for x in y recursive %}{% endfor %}", "recursive for loop", 1);
  expect_unsupported("{{ range(*args) }}", "*args/**kwargs in a call", 1);
  expect_unsupported("{{ (messages | first)('x') }}", "call of a computed value", 1);
  expect_unsupported("{% set x | upper %}a{% endset %}", "filter on a {% set %} block", 1);
  // Rejected even where the branch would never run: an unsupported template must not load at all.
  expect_unsupported("{% if false %}\n\n\n{{ x | wordcount }}{% endif %}", "|wordcount", 4);
}

// --- malformed templates: invalid_argument naming the line ---

void expect_syntax_error(const std::string& source, const std::string& fragment, int line) {
  auto tmpl = ChatTemplate::parse(source);
  ASSERT_FALSE(tmpl.ok()) << source;
  EXPECT_EQ(tmpl.status().code(), StatusCode::invalid_argument) << tmpl.status().to_string();
  const std::string& m = tmpl.status().message();
  EXPECT_NE(m.find("syntax error at line " + std::to_string(line) + ":"), std::string::npos) << m;
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
}

TEST(ChatTemplateJinja, SyntaxErrorsNameTheLine) {
  expect_syntax_error("{% if true %}x", "expected '{% endif %}'", 1);
  expect_syntax_error("{% for x in y %}\n{% if x %}{% endfor %}", "expected '{% endif %}'", 2);
  expect_syntax_error("a\n{{ 'unterminated }}", "unterminated string", 2);
  expect_syntax_error("{% frobnicate %}", "unknown tag 'frobnicate'", 1);
  expect_syntax_error("\n{% endif %}", "unexpected '{% endif %}'", 2);
  expect_syntax_error("{{ 1 + }}", "expected an expression", 1);
  expect_syntax_error("{% break %}", "'break' outside of a for loop", 1);
  expect_syntax_error("a\n{# never closed", "missing end of comment tag", 2);
  expect_syntax_error("{{ x ]] }}", "unbalanced ']'", 1);
  expect_syntax_error("{{ a\n\n", "missing '}}'", 2);
}

// --- runtime errors ---

Status run_error(const std::string& source, ordered_json vars = ordered_json::object()) {
  auto out = run(source, std::move(vars));
  EXPECT_FALSE(out.ok()) << source << " rendered " << (out.ok() ? *out : "");
  return out.ok() ? Status() : out.status();
}

TEST(ChatTemplateJinja, RaiseExceptionCarriesTheTemplatesMessageVerbatim) {
  const Status s = run_error("{% if messages | length > 1 %}{{ raise_exception('Only ' ~ 1 ~ ' message!') }}{% endif %}",
                             {{"messages", {{{"role", "user"}}, {{"role", "user"}}}}});
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.message(), "Only 1 message!");
  // An untaken branch does not raise.
  EXPECT_TRUE(run("{% if false %}{{ raise_exception('no') }}{% endif %}ok").ok());
}

TEST(ChatTemplateJinja, MisusingUndefinedIsAnErrorWithJinja2sWording) {
  Status s = run_error("\n{{ missing.attr }}");
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_EQ(s.message(), "chat template error at line 2: 'missing' is undefined");
  s = run_error("{{ messages[0].nope.deeper }}", {{"messages", {{{"role", "user"}}}}});
  EXPECT_EQ(s.message(), "chat template error at line 1: 'dict object' has no attribute 'nope'");
  s = run_error("{{ messages[3]['role'] }}", {{"messages", ordered_json::array()}});
  EXPECT_EQ(s.message(), "chat template error at line 1: list object has no element 3");
  s = run_error("{{ missing + 'x' }}");
  EXPECT_EQ(s.message(), "chat template error at line 1: 'missing' is undefined");
  s = run_error("{{ missing | tojson }}");
  EXPECT_NE(s.message().find("not JSON serializable"), std::string::npos) << s.message();
  s = run_error("{% set alias = nope %}{{ alias['key'] }}");
  EXPECT_EQ(s.message(), "chat template error at line 1: 'nope' is undefined");
}

TEST(ChatTemplateJinja, TypeErrorsAreInvalidArgument) {
  for (const char* source : {"{{ [1] + 1 }}", "{{ 'a' + 1 }}", "{{ 1 / 0 }}", "{{ 5 // 0 }}", "{% for x in 5 %}{% endfor %}",
                             "{{ 'x'.split('') }}", "{{ messages.strip() }}", "{{ 1 < 'a' }}", "{{ none | length }}",
                             "{% set x = 1 %}{% set x.y = 2 %}", "{% set a, b = [1] %}", "{{ 'a' in 1 }}"}) {
    SCOPED_TRACE(source);
    const Status s = run_error(source, {{"messages", ordered_json::array()}});
    EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
    EXPECT_EQ(s.message().rfind("chat template error at line 1: ", 0), 0u) << s.message();
  }
}

TEST(ChatTemplateJinja, ValuesThisSubsetCannotReproduceExactlyAreUnsupportedNotApproximated) {
  // Python maps non-ASCII case (É -> é); rather than differ silently, the render fails.
  for (const char* source : {"{{ '\u00c9t\u00e9' | upper }}", "{{ '\u00c9'.lower() }}", "{{ x | tojson(ensure_ascii=true) }}",
                             "{{ '%s' % 'x' }}"}) {
    SCOPED_TRACE(source);
    const Status s = run_error(source, {{"x", "y"}});
    EXPECT_EQ(s.code(), StatusCode::unsupported) << s.to_string();
  }
}

TEST(ChatTemplateJinja, StrftimeNowFormatsTheCurrentTime) {
  auto out = run("{{ strftime_now('%Y') }}");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  EXPECT_EQ(*out, std::to_string(local.tm_year + 1900));
}

TEST(ChatTemplateJinja, DictOrderFollowsTheJsonTypeGiven) {
  // Python keeps a dict's insertion order; ordered_json does too, nlohmann::json sorts keys.
  const std::string source = "{% for k in d %}{{ k }}{% endfor %}{{ d | tojson }}";
  auto tmpl = ChatTemplate::parse(source);
  ASSERT_TRUE(tmpl.ok());
  auto ordered = tmpl->render(ordered_json::array(), false, ordered_json::parse(R"({"d": {"z": 1, "a": 2}})"));
  auto sorted = tmpl->render(nlohmann::json::array(), false, nlohmann::json::parse(R"({"d": {"z": 1, "a": 2}})"));
  ASSERT_TRUE(ordered.ok() && sorted.ok());
  EXPECT_EQ(*ordered, "za{\"z\": 1, \"a\": 2}");
  EXPECT_EQ(*sorted, "az{\"a\": 2, \"z\": 1}");
}

TEST(ChatTemplateJinja, ToolsAndDocumentsCanBeProvidedThroughTheContext) {
  auto out = run("{% if tools %}{{ tools | length }} tools: {{ tools[0].function.name }}{% endif %}",
                 ordered_json::parse(R"({"tools": [{"type": "function", "function": {"name": "get_weather"}}]})"));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "1 tools: get_weather");
}

}  // namespace
}  // namespace mixserve
