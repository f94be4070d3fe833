#pragma once
// Splits a chat template into text and tag tokens the way jinja2's lexer does under HF's settings
// (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False): `{%-`/`-%}` strip all whitespace on
// that side, a block or comment tag removes the newline right after it, spaces and tabs before a block or
// comment tag at the start of a line are dropped, `{%+`/`+%}` opt out, and one trailing newline of the
// template is removed. Comments disappear here; the text around them is already trimmed.
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve::jinja {

enum class TokenKind {
  text,         // literal template text, whitespace control already applied
  print_begin,  // {{
  print_end,    // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,       // value is the decoded literal
  integer,
  floating,
  op,           // operator or punctuation: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } . , : |
  end,          // end of template
};

struct Token {
  TokenKind kind = TokenKind::end;
  std::string value;  // text, name, string contents or operator
  int64_t integer = 0;
  double floating = 0.0;
  int line = 1;       // 1-based line of the token's first character
};

// Syntax errors (an unterminated tag or string, a stray character) are invalid_argument naming the line;
// `{% raw %}` is unsupported.
Result<std::vector<Token>> tokenize(const std::string& source);

}  // namespace mixserve::jinja
