#pragma once
// The parsed form of a chat template: expressions and statements of the supported Jinja subset. Every node
// keeps the template line it came from so runtime errors can point at it. One node struct per tree (with
// fields used per kind) keeps the parser and evaluator short; the comments say which fields a kind uses.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/chat/jinja_value.h"

namespace mixserve::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  literal,      // value
  name,         // name
  list,         // args: items
  tuple,        // args: items
  dict,         // args: key0, value0, key1, value1, ...
  attribute,    // a.name; an integer name (`x.0`) is a subscript
  subscript,    // a[b]
  slice,        // a[args[0]:args[1]:args[2]], each may be null
  unary,        // name in {"-", "+", "not"}, operand a
  binary,       // a name b with name in {+, -, *, /, //, %, **, ~}
  logical,      // a name b with name in {and, or}; returns an operand, as in Python
  compare,      // args[0] ops[0] args[1] ops[1] args[2] ...; ops in {==, !=, <, <=, >, >=, in, not in}
  conditional,  // a if b else c; c may be null (then undefined)
  filter,       // a | name(args, kwargs)
  test,         // a is [not] name(args)
  call,         // name(args, kwargs): a global function
  method_call,  // a.name(args, kwargs)
};

struct Expr {
  ExprKind kind = ExprKind::literal;
  int line = 0;
  Value value;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // test: `is not`
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

enum class StmtKind {
  text,           // text
  print,          // {{ expr }}
  if_chain,       // branches (condition, body) for if/elif; else_body
  for_loop,       // for targets in expr [if filter]: body; else_body
  set,            // set targets = expr (several targets unpack a sequence)
  set_attribute,  // set targets[0].targets[1] = expr (namespace attribute)
  set_block,      // set targets[0]: body rendered to a string
  break_loop,
  continue_loop,
  scope,          // body rendered in place: HF's {% generation %} block
};

struct Stmt {
  StmtKind kind = StmtKind::text;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::string> targets;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
};

}  // namespace mixserve::jinja
