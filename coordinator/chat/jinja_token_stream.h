#pragma once
// A cursor over the lexer's tokens for the parsers, and the two parse-error shapes they report.
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/chat/jinja_lexer.h"
#include "core/status.h"

namespace mixserve::jinja {

// "chat template syntax error at line L: what" (invalid_argument).
Status syntax_error(int line, const std::string& what);
// "unsupported Jinja construct 'what' at line L" (unsupported).
Status unsupported_construct(int line, const std::string& what);

// How a token is named in error messages: '}}', '%}', end of template, a string, 'x'.
std::string describe(const Token& t);

class TokenStream {
 public:
  explicit TokenStream(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}
  const Token& peek(size_t ahead = 0) const;
  const Token& next();
  bool at_op(std::string_view op) const;
  bool at_name(std::string_view name, size_t ahead = 0) const;
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);
  Status expect_op(std::string_view op);
  Result<std::string> expect_name();
  Status expect_kind(TokenKind kind, const char* what);

 private:
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace mixserve::jinja
