#include "coordinator/chat/jinja_expr_parser.h"

#include "coordinator/chat/jinja_builtins.h"
#include "coordinator/chat/jinja_filters.h"

namespace mixserve::jinja {
namespace {

ExprPtr make(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

ExprPtr make_binary(ExprKind kind, std::string op, ExprPtr a, ExprPtr b, int line) {
  ExprPtr e = make(kind, line);
  e->name = std::move(op);
  e->a = std::move(a);
  e->b = std::move(b);
  return e;
}

}  // namespace

Result<ExprPtr> ExprParser::parse_expression(bool with_condexpr) {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr expr, parse_or());
  while (with_condexpr && t_.at_name("if")) {
    const int line = t_.next().line;
    ExprPtr cond = make(ExprKind::conditional, line);
    cond->a = std::move(expr);
    MIXSERVE_ASSIGN_OR_RETURN(cond->b, parse_or());
    if (t_.skip_name("else")) {
      MIXSERVE_ASSIGN_OR_RETURN(cond->c, parse_expression(true));
    }
    expr = std::move(cond);
  }
  return expr;
}

Result<ExprPtr> ExprParser::parse_tuple(bool with_condexpr) {
  const int line = t_.peek().line;
  ExprPtr tuple = make(ExprKind::tuple, line);
  bool saw_comma = false;
  while (true) {
    if (!tuple->args.empty()) {
      if (!t_.skip_op(",")) break;
      saw_comma = true;
    }
    const TokenKind k = t_.peek().kind;
    if (k == TokenKind::block_end || k == TokenKind::print_end || t_.at_op(")") || t_.at_op("=")) break;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(with_condexpr));
    tuple->args.push_back(std::move(item));
  }
  if (tuple->args.empty()) return syntax_error(line, "expected an expression, found " + describe(t_.peek()));
  if (!saw_comma) return std::move(tuple->args[0]);
  return tuple;
}

Result<ExprPtr> ExprParser::parse_or() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
  while (t_.at_name("or")) {
    const int line = t_.next().line;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
    left = make_binary(ExprKind::logical, "or", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_and() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
  while (t_.at_name("and")) {
    const int line = t_.next().line;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
    left = make_binary(ExprKind::logical, "and", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_not() {
  if (!t_.at_name("not")) return parse_compare();
  ExprPtr e = make(ExprKind::unary, t_.next().line);
  e->name = "not";
  MIXSERVE_ASSIGN_OR_RETURN(e->a, parse_not());
  return e;
}

Result<ExprPtr> ExprParser::parse_compare() {
  const int line = t_.peek().line;
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr first, parse_math1());
  ExprPtr cmp = make(ExprKind::compare, line);
  cmp->args.push_back(std::move(first));
  while (true) {
    std::string op;
    const Token& t = t_.peek();
    if (t.kind == TokenKind::op &&
        (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" || t.value == ">" || t.value == ">=")) {
      op = t.value;
      t_.next();
    } else if (t_.at_name("in")) {
      op = "in";
      t_.next();
    } else if (t_.at_name("not") && t_.at_name("in", 1)) {
      op = "not in";
      t_.next();
      t_.next();
    } else {
      break;
    }
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr operand, parse_math1());
    cmp->ops.push_back(op);
    cmp->args.push_back(std::move(operand));
  }
  if (cmp->ops.empty()) return std::move(cmp->args[0]);
  return cmp;
}

Result<ExprPtr> ExprParser::parse_math1() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_concat());
  while (t_.at_op("+") || t_.at_op("-")) {
    const Token& op = t_.next();
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_concat());
    left = make_binary(ExprKind::binary, op.value, std::move(left), std::move(right), op.line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_concat() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_math2());
  while (t_.at_op("~")) {
    const int line = t_.next().line;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_math2());
    left = make_binary(ExprKind::binary, "~", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_math2() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_pow());
  while (t_.at_op("*") || t_.at_op("/") || t_.at_op("//") || t_.at_op("%")) {
    const Token& op = t_.next();
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_pow());
    left = make_binary(ExprKind::binary, op.value, std::move(left), std::move(right), op.line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_pow() {
  MIXSERVE_ASSIGN_OR_RETURN(ExprPtr left, parse_unary(true));
  while (t_.at_op("**")) {
    const int line = t_.next().line;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr right, parse_unary(true));
    left = make_binary(ExprKind::binary, "**", std::move(left), std::move(right), line);
  }
  return left;
}

Result<ExprPtr> ExprParser::parse_unary(bool with_filter) {
  ExprPtr node;
  if (t_.at_op("-") || t_.at_op("+")) {
    const Token& op = t_.next();
    node = make(ExprKind::unary, op.line);
    node->name = op.value;
    MIXSERVE_ASSIGN_OR_RETURN(node->a, parse_unary(false));
  } else {
    MIXSERVE_ASSIGN_OR_RETURN(node, parse_primary());
  }
  MIXSERVE_ASSIGN_OR_RETURN(node, parse_postfix(std::move(node)));
  if (!with_filter) return node;
  return parse_filters_and_tests(std::move(node));
}

Result<ExprPtr> ExprParser::parse_primary() {
  const Token& t = t_.peek();
  const int line = t.line;
  ExprPtr e = make(ExprKind::literal, line);
  switch (t.kind) {
    case TokenKind::name:
      t_.next();
      if (t.value == "true" || t.value == "True") e->value = true;
      else if (t.value == "false" || t.value == "False") e->value = false;
      else if (t.value == "none" || t.value == "None") e->value = Value();
      else e->kind = ExprKind::name, e->name = t.value;
      return e;
    case TokenKind::string: {
      std::string s;
      while (t_.peek().kind == TokenKind::string) s += t_.next().value;  // adjacent literals concatenate
      e->value = std::move(s);
      return e;
    }
    case TokenKind::integer: e->value = t_.next().integer; return e;
    case TokenKind::floating: e->value = t_.next().floating; return e;
    case TokenKind::op:
      if (t_.skip_op("(")) {
        if (t_.skip_op(")")) {
          e->kind = ExprKind::tuple;
          return e;
        }
        MIXSERVE_ASSIGN_OR_RETURN(ExprPtr inner, parse_tuple(true));
        MIXSERVE_RETURN_IF_ERROR(t_.expect_op(")"));
        return inner;
      }
      if (t_.skip_op("[")) return parse_sequence("]", ExprKind::list, line);
      if (t_.skip_op("{")) return parse_dict(line);
      break;
    default: break;
  }
  return syntax_error(line, "expected an expression, found " + describe(t));
}

Result<ExprPtr> ExprParser::parse_sequence(const char* close, ExprKind kind, int line) {
  ExprPtr e = make(kind, line);
  while (!t_.skip_op(close)) {
    if (!e->args.empty()) MIXSERVE_RETURN_IF_ERROR(t_.expect_op(","));
    if (t_.skip_op(close)) break;  // trailing comma
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(true));
    e->args.push_back(std::move(item));
  }
  return e;
}

Result<ExprPtr> ExprParser::parse_dict(int line) {
  ExprPtr e = make(ExprKind::dict, line);
  while (!t_.skip_op("}")) {
    if (!e->args.empty()) MIXSERVE_RETURN_IF_ERROR(t_.expect_op(","));
    if (t_.skip_op("}")) break;
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr key, parse_expression(true));
    MIXSERVE_RETURN_IF_ERROR(t_.expect_op(":"));
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
    e->args.push_back(std::move(key));
    e->args.push_back(std::move(value));
  }
  return e;
}

Result<ExprPtr> ExprParser::parse_postfix(ExprPtr node) {
  while (true) {
    if (t_.at_op(".")) {
      const int line = t_.next().line;
      const Token& member = t_.next();
      if (member.kind == TokenKind::integer) {  // `x.0` is x[0]
        ExprPtr e = make(ExprKind::subscript, line);
        e->a = std::move(node);
        e->b = make(ExprKind::literal, line);
        e->b->value = member.integer;
        node = std::move(e);
        continue;
      }
      if (member.kind != TokenKind::name) return syntax_error(line, "expected an attribute name after '.'");
      const bool is_call = t_.at_op("(");
      if (is_call && !is_supported_method(member.value))
        return unsupported_construct(line, "." + member.value + "()");
      ExprPtr e = make(is_call ? ExprKind::method_call : ExprKind::attribute, line);
      e->a = std::move(node);
      e->name = member.value;
      if (is_call) MIXSERVE_RETURN_IF_ERROR(parse_call_args(*e));
      node = std::move(e);
    } else if (t_.at_op("[")) {
      MIXSERVE_ASSIGN_OR_RETURN(node, parse_subscript(std::move(node)));
    } else if (t_.at_op("(")) {
      MIXSERVE_ASSIGN_OR_RETURN(node, parse_call(std::move(node)));
    } else {
      return node;
    }
  }
}

Result<ExprPtr> ExprParser::parse_subscript(ExprPtr node) {
  const int line = t_.next().line;  // '['
  ExprPtr parts[3];
  int n_colons = 0;
  for (int i = 0; i < 3; ++i) {
    if (!t_.at_op(":") && !t_.at_op("]")) {
      MIXSERVE_ASSIGN_OR_RETURN(parts[i], parse_expression(true));
    }
    if (i == 2 || !t_.skip_op(":")) break;
    ++n_colons;
  }
  MIXSERVE_RETURN_IF_ERROR(t_.expect_op("]"));
  ExprPtr e = make(n_colons == 0 ? ExprKind::subscript : ExprKind::slice, line);
  e->a = std::move(node);
  if (n_colons == 0) {
    if (!parts[0]) return syntax_error(line, "expected an index inside '[]'");
    e->b = std::move(parts[0]);
  } else {
    for (auto& p : parts) e->args.push_back(std::move(p));
  }
  return e;
}

Result<ExprPtr> ExprParser::parse_call(ExprPtr callee) {
  if (callee->kind != ExprKind::name) return unsupported_construct(callee->line, "call of a computed value");
  if (!is_global_function(callee->name)) return unsupported_construct(callee->line, callee->name + "()");
  ExprPtr e = make(ExprKind::call, callee->line);
  e->name = callee->name;
  MIXSERVE_RETURN_IF_ERROR(parse_call_args(*e));
  return e;
}

Status ExprParser::parse_call_args(Expr& call) {
  MIXSERVE_RETURN_IF_ERROR(t_.expect_op("("));
  while (!t_.skip_op(")")) {
    if (!call.args.empty() || !call.kwargs.empty()) MIXSERVE_RETURN_IF_ERROR(t_.expect_op(","));
    if (t_.skip_op(")")) break;
    if (t_.at_op("*") || t_.at_op("**")) return unsupported_construct(t_.peek().line, "*args/**kwargs in a call");
    if (t_.peek().kind == TokenKind::name && t_.peek(1).kind == TokenKind::op && t_.peek(1).value == "=") {
      std::string key = t_.next().value;
      t_.next();
      MIXSERVE_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      call.kwargs.emplace_back(std::move(key), std::move(value));
      continue;
    }
    if (!call.kwargs.empty()) return syntax_error(t_.peek().line, "positional argument after keyword argument");
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr arg, parse_expression(true));
    call.args.push_back(std::move(arg));
  }
  return Status();
}

Result<ExprPtr> ExprParser::parse_filters_and_tests(ExprPtr node) {
  while (true) {
    if (t_.at_op("|")) {
      const int line = t_.next().line;
      MIXSERVE_ASSIGN_OR_RETURN(std::string name, t_.expect_name());
      if (!is_supported_filter(name)) return unsupported_construct(line, "|" + name);
      ExprPtr e = make(ExprKind::filter, line);
      e->a = std::move(node);
      e->name = std::move(name);
      if (t_.at_op("(")) MIXSERVE_RETURN_IF_ERROR(parse_call_args(*e));
      node = std::move(e);
    } else if (t_.at_name("is")) {
      MIXSERVE_ASSIGN_OR_RETURN(node, parse_test(std::move(node)));
    } else if (t_.at_op("(")) {
      return unsupported_construct(t_.peek().line, "call of a computed value");
    } else {
      return node;
    }
  }
}

Result<ExprPtr> ExprParser::parse_test(ExprPtr node) {
  const int line = t_.next().line;  // 'is'
  ExprPtr e = make(ExprKind::test, line);
  e->negated = t_.skip_name("not");
  MIXSERVE_ASSIGN_OR_RETURN(e->name, t_.expect_name());
  if (!is_supported_test(e->name)) return unsupported_construct(line, "is " + e->name);
  e->a = std::move(node);
  if (t_.at_op("(")) {
    MIXSERVE_RETURN_IF_ERROR(parse_call_args(*e));
    return e;
  }
  // jinja2 also takes one bare argument: `x is sameas false`, `n is divisibleby 3`.
  const Token& t = t_.peek();
  const bool starts_operand = t.kind == TokenKind::name || t.kind == TokenKind::string ||
                              t.kind == TokenKind::integer || t.kind == TokenKind::floating || t_.at_op("[") ||
                              t_.at_op("{") || t_.at_op("(");
  if (starts_operand && !t_.at_name("else") && !t_.at_name("or") && !t_.at_name("and")) {
    if (t_.at_name("is")) return syntax_error(t.line, "tests cannot be chained with 'is'");
    MIXSERVE_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
    MIXSERVE_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
    e->args.push_back(std::move(arg));
  }
  return e;
}

}  // namespace mixserve::jinja
