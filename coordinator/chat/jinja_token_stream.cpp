#include "coordinator/chat/jinja_token_stream.h"

#include <algorithm>

namespace mixserve::jinja {

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::print_end: return "'}}'";
    case TokenKind::block_end: return "'%}'";
    case TokenKind::end: return "end of template";
    case TokenKind::string: return "a string";
    default: return "'" + t.value + "'";
  }
}

Status syntax_error(int line, const std::string& what) {
  return invalid_argument("chat template syntax error at line " + std::to_string(line) + ": " + what);
}

Status unsupported_construct(int line, const std::string& what) {
  return unsupported("unsupported Jinja construct '" + what + "' at line " + std::to_string(line));
}

const Token& TokenStream::peek(size_t ahead) const {
  return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];  // the last token is always `end`
}

const Token& TokenStream::next() {
  const Token& t = peek();
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool TokenStream::at_op(std::string_view op) const { return peek().kind == TokenKind::op && peek().value == op; }

bool TokenStream::at_name(std::string_view name, size_t ahead) const {
  return peek(ahead).kind == TokenKind::name && peek(ahead).value == name;
}

bool TokenStream::skip_op(std::string_view op) {
  if (!at_op(op)) return false;
  next();
  return true;
}

bool TokenStream::skip_name(std::string_view name) {
  if (!at_name(name)) return false;
  next();
  return true;
}

Status TokenStream::expect_op(std::string_view op) {
  if (skip_op(op)) return Status();
  return syntax_error(peek().line, "expected '" + std::string(op) + "', found " + describe(peek()));
}

Result<std::string> TokenStream::expect_name() {
  if (peek().kind != TokenKind::name) return syntax_error(peek().line, "expected a name, found " + describe(peek()));
  return next().value;
}

Status TokenStream::expect_kind(TokenKind kind, const char* what) {
  if (peek().kind == kind) {
    next();
    return Status();
  }
  return syntax_error(peek().line, std::string("expected ") + what + ", found " + describe(peek()));
}

}  // namespace mixserve::jinja
