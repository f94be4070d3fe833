#pragma once
// Expression parsing for the chat-template subset, with jinja2's precedence (loosest first):
// `x if c else y`, or, and, not, comparisons (== != < <= > >= in, not in; chainable), + -, ~, * / // %, **,
// unary - +, then postfix .attr [index] [a:b:c] (call) and filters `|f(...)` / tests `is [not] t(...)`,
// which bind tighter than every binary operator (so `a + b | trim` trims b only).
// Filters, tests, methods and global functions outside the supported set are rejected here, at parse time.
#include "coordinator/chat/jinja_ast.h"
#include "coordinator/chat/jinja_token_stream.h"
#include "core/status.h"

namespace mixserve::jinja {

class ExprParser {
 public:
  explicit ExprParser(TokenStream& tokens) : t_(tokens) {}
  // A full expression, including `x if c else y` unless with_condexpr is false (a for-loop's iterable,
  // where a trailing `if` is the loop filter).
  Result<ExprPtr> parse_expression(bool with_condexpr = true);
  // Like parse_expression, but `a, b` without parentheses becomes a tuple (print, set and for).
  Result<ExprPtr> parse_tuple(bool with_condexpr = true);

 private:
  Result<ExprPtr> parse_or();
  Result<ExprPtr> parse_and();
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  Result<ExprPtr> parse_math1();
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_math2();
  Result<ExprPtr> parse_pow();
  Result<ExprPtr> parse_unary(bool with_filter);
  Result<ExprPtr> parse_primary();
  Result<ExprPtr> parse_sequence(const char* close, ExprKind kind, int line);
  Result<ExprPtr> parse_dict(int line);
  Result<ExprPtr> parse_postfix(ExprPtr node);
  Result<ExprPtr> parse_subscript(ExprPtr node);
  Result<ExprPtr> parse_call(ExprPtr callee);
  Result<ExprPtr> parse_filters_and_tests(ExprPtr node);
  Result<ExprPtr> parse_test(ExprPtr node);
  Status parse_call_args(Expr& call);

  TokenStream& t_;
};

}  // namespace mixserve::jinja
