#include "coordinator/chat/jinja_evaluator.h"

#include "coordinator/chat/jinja_builtins.h"
#include "coordinator/chat/jinja_filters.h"
#include "coordinator/chat/jinja_operators.h"

namespace mixserve::jinja {
namespace {

enum class Flow { normal, break_loop, continue_loop };

// Prefixes a runtime error with the template line it happened at.
Status at_line(int line, const Status& s) {
  return Status(s.code(), "chat template error at line " + std::to_string(line) + ": " + s.message());
}

template <typename T>
Result<T> at_line(int line, Result<T> r) {
  if (r.ok()) return r;
  return at_line(line, r.status());
}

class Renderer {
 public:
  explicit Renderer(const ValueDict& variables) {
    ValueDict globals;
    for (const char* name : {"raise_exception", "namespace", "dict", "range", "strftime_now"})
      globals.emplace_back(name, Value::function(name));
    for (const auto& [key, value] : variables) set_in(globals, key, value);
    scopes_.push_back(std::move(globals));
    scopes_.emplace_back();  // the template's own top-level scope
  }

  Result<std::string> render(const Body& body) {
    MIXSERVE_RETURN_IF_ERROR(exec_body(body).status());
    return std::move(out_);
  }

 private:
  static void set_in(ValueDict& scope, const std::string& name, Value v) {
    for (auto& [key, value] : scope) {
      if (key == name) {
        value = std::move(v);
        return;
      }
    }
    scope.emplace_back(name, std::move(v));
  }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (const Value* v = find_key(*it, name)) return *v;
    return Value::undefined("'" + name + "' is undefined");
  }

  Status assign(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) {
      set_in(scopes_.back(), targets[0], v);
      return Status();
    }
    auto items = iterate(v);
    if (!items.ok()) return at_line(line, items.status());
    if (items->size() != targets.size())
      return at_line(line, invalid_argument("cannot unpack " + std::to_string(items->size()) + " values into " +
                                            std::to_string(targets.size()) + " names"));
    for (size_t i = 0; i < targets.size(); ++i) set_in(scopes_.back(), targets[i], (*items)[i]);
    return Status();
  }

  Result<Flow> exec_body(const Body& body) {
    for (const auto& stmt : body) {
      MIXSERVE_ASSIGN_OR_RETURN(Flow flow, exec(*stmt));
      if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  Result<Flow> exec(const Stmt& s) {
    switch (s.kind) {
      case StmtKind::text: out_ += s.text; return Flow::normal;
      case StmtKind::print: {
        MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
        out_ += to_str(v);
        return Flow::normal;
      }
      case StmtKind::if_chain:
        for (const auto& [cond, body] : s.branches) {
          MIXSERVE_ASSIGN_OR_RETURN(Value c, eval(*cond));
          if (c.truthy()) return exec_body(body);
        }
        return exec_body(s.else_body);
      case StmtKind::for_loop: return exec_for(s);
      case StmtKind::set: {
        MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
        MIXSERVE_RETURN_IF_ERROR(assign(s.targets, v, s.line));
        return Flow::normal;
      }
      case StmtKind::set_attribute: {
        const Value target = lookup(s.targets[0]);
        if (target.kind() != Kind::namespace_object)
          return at_line(s.line, invalid_argument("cannot assign attribute on non-namespace object"));
        MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
        set_in(target.as_namespace().attributes, s.targets[1], std::move(v));
        return Flow::normal;
      }
      case StmtKind::set_block: {
        std::string saved = std::move(out_);
        out_.clear();
        auto flow = exec_body(s.body);
        std::string captured = std::move(out_);
        out_ = std::move(saved);
        if (!flow.ok()) return flow.status();
        set_in(scopes_.back(), s.targets[0], Value(std::move(captured)));
        return Flow::normal;
      }
      case StmtKind::break_loop: return Flow::break_loop;
      case StmtKind::continue_loop: return Flow::continue_loop;
      case StmtKind::scope: return exec_body(s.body);
    }
    return internal_error("unknown statement");
  }

  // Runs `body` in a fresh scope binding the loop targets (and `loop` when given), as each iteration does.
  Result<Flow> run_in_scope(const Stmt& s, const Value& item, const Value* loop, const Body& body) {
    scopes_.emplace_back();
    Status bound = assign(s.targets, item, s.line);
    if (bound.ok() && loop != nullptr) set_in(scopes_.back(), "loop", *loop);
    Result<Flow> flow = bound.ok() ? exec_body(body) : Result<Flow>(bound);
    scopes_.pop_back();
    return flow;
  }

  Result<Flow> exec_for(const Stmt& s) {
    MIXSERVE_ASSIGN_OR_RETURN(Value iterable, eval(*s.expr));
    MIXSERVE_ASSIGN_OR_RETURN(ValueList all, at_line(s.line, iterate(iterable)));
    ValueList items;
    for (Value& item : all) {  // `for x in xs if cond` filters first: loop.index and loop.length count kept items
      bool keep = true;
      if (s.filter) {
        scopes_.emplace_back();
        Status bound = assign(s.targets, item, s.line);
        Result<Value> cond = bound.ok() ? eval(*s.filter) : Result<Value>(bound);
        scopes_.pop_back();
        if (!cond.ok()) return cond.status();
        keep = cond->truthy();
      }
      if (keep) items.push_back(std::move(item));
    }
    if (items.empty()) {
      scopes_.emplace_back();
      auto flow = exec_body(s.else_body);
      scopes_.pop_back();
      if (!flow.ok()) return flow.status();
      return Flow::normal;
    }
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      ValueDict loop = {{"index", Value(i + 1)},     {"index0", Value(i)},         {"revindex", Value(n - i)},
                        {"revindex0", Value(n - i - 1)}, {"first", Value(i == 0)}, {"last", Value(i == n - 1)},
                        {"length", Value(n)}};
      if (i > 0) loop.emplace_back("previtem", items[static_cast<size_t>(i - 1)]);
      if (i + 1 < n) loop.emplace_back("nextitem", items[static_cast<size_t>(i + 1)]);
      const Value loop_value = Value::dict(std::move(loop));
      MIXSERVE_ASSIGN_OR_RETURN(Flow flow, run_in_scope(s, items[static_cast<size_t>(i)], &loop_value, s.body));
      if (flow == Flow::break_loop) break;
    }
    return Flow::normal;
  }

  Result<CallArgs> eval_args(const Expr& e) {
    CallArgs args;
    for (const auto& a : e.args) {
      MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*a));
      args.positional.push_back(std::move(v));
    }
    for (const auto& [key, a] : e.kwargs) {
      MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*a));
      args.keyword.emplace_back(key, std::move(v));
    }
    return args;
  }

  Result<Value> eval_sequence(const Expr& e) {
    ValueList items;
    for (const auto& a : e.args) {
      MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*a));
      items.push_back(std::move(v));
    }
    return Value::list(std::move(items), e.kind == ExprKind::tuple);
  }

  Result<Value> eval_dict(const Expr& e) {
    ValueDict items;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      MIXSERVE_ASSIGN_OR_RETURN(Value key, eval(*e.args[i]));
      if (!key.is_string()) return at_line(e.line, unsupported("dict literal with a non-string key"));
      MIXSERVE_ASSIGN_OR_RETURN(Value value, eval(*e.args[i + 1]));
      set_in(items, key.as_string(), std::move(value));
    }
    return Value::dict(std::move(items));
  }

  Result<Value> eval_compare(const Expr& e) {
    MIXSERVE_ASSIGN_OR_RETURN(Value left, eval(*e.args[0]));
    for (size_t i = 0; i < e.ops.size(); ++i) {  // a < b < c means a < b and b < c
      MIXSERVE_ASSIGN_OR_RETURN(Value right, eval(*e.args[i + 1]));
      MIXSERVE_ASSIGN_OR_RETURN(bool holds, at_line(e.line, compare_op(e.ops[i], left, right)));
      if (!holds) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  Result<Value> eval_call(const Expr& e) {
    MIXSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e));
    const Value callee = lookup(e.name);
    if (callee.kind() != Kind::function || callee.as_function().name != e.name || callee.as_function().receiver)
      return at_line(e.line, invalid_argument("'" + e.name + "' is not callable here"));
    if (e.name == "raise_exception")  // the template's own message, unprefixed: it is the error users see
      return invalid_argument(args.positional.empty() ? std::string() : to_str(args.positional[0]));
    return at_line(e.line, call_global(e.name, args));
  }

  Result<Value> eval(const Expr& e) {
    switch (e.kind) {
      case ExprKind::literal: return e.value;
      case ExprKind::name: return lookup(e.name);
      case ExprKind::list:
      case ExprKind::tuple: return eval_sequence(e);
      case ExprKind::dict: return eval_dict(e);
      case ExprKind::attribute: {
        MIXSERVE_ASSIGN_OR_RETURN(Value obj, eval(*e.a));
        if (obj.is_undefined()) return at_line(e.line, invalid_argument(obj.undefined_message()));
        return get_attribute(obj, e.name);
      }
      case ExprKind::subscript: {
        MIXSERVE_ASSIGN_OR_RETURN(Value obj, eval(*e.a));
        if (obj.is_undefined()) return at_line(e.line, invalid_argument(obj.undefined_message()));
        MIXSERVE_ASSIGN_OR_RETURN(Value key, eval(*e.b));
        return get_item(obj, key);
      }
      case ExprKind::slice: {
        MIXSERVE_ASSIGN_OR_RETURN(Value obj, eval(*e.a));
        Value bounds[3];
        for (size_t i = 0; i < 3; ++i) {
          if (!e.args[i]) continue;
          MIXSERVE_ASSIGN_OR_RETURN(bounds[i], eval(*e.args[i]));
        }
        return at_line(e.line, slice_value(obj, bounds[0], bounds[1], bounds[2]));
      }
      case ExprKind::unary: {
        MIXSERVE_ASSIGN_OR_RETURN(Value v, eval(*e.a));
        if (e.name == "not") return Value(!v.truthy());
        return at_line(e.line, unary_op(e.name, v));
      }
      case ExprKind::binary: {
        MIXSERVE_ASSIGN_OR_RETURN(Value x, eval(*e.a));
        MIXSERVE_ASSIGN_OR_RETURN(Value y, eval(*e.b));
        return at_line(e.line, binary_op(e.name, x, y));
      }
      case ExprKind::logical: {  // Python returns the deciding operand, not a bool
        MIXSERVE_ASSIGN_OR_RETURN(Value x, eval(*e.a));
        if (e.name == "and" ? !x.truthy() : x.truthy()) return x;
        return eval(*e.b);
      }
      case ExprKind::compare: return eval_compare(e);
      case ExprKind::conditional: {
        MIXSERVE_ASSIGN_OR_RETURN(Value cond, eval(*e.b));
        if (cond.truthy()) return eval(*e.a);
        if (e.c) return eval(*e.c);
        return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                " evaluated to false and no else section was defined.");
      }
      case ExprKind::filter: {
        MIXSERVE_ASSIGN_OR_RETURN(Value input, eval(*e.a));
        MIXSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e));
        return at_line(e.line, apply_filter(e.name, input, args));
      }
      case ExprKind::test: {
        MIXSERVE_ASSIGN_OR_RETURN(Value input, eval(*e.a));
        MIXSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e));
        MIXSERVE_ASSIGN_OR_RETURN(bool passed, at_line(e.line, apply_test(e.name, input, args.positional)));
        return Value(passed != e.negated);
      }
      case ExprKind::call: return eval_call(e);
      case ExprKind::method_call: {
        MIXSERVE_ASSIGN_OR_RETURN(Value receiver, eval(*e.a));
        MIXSERVE_ASSIGN_OR_RETURN(CallArgs args, eval_args(e));
        return at_line(e.line, call_method(receiver, e.name, args));
      }
    }
    return internal_error("unknown expression");
  }

  std::vector<ValueDict> scopes_;  // [globals and variables, template scope, one per active loop iteration...]
  std::string out_;
};

}  // namespace

Result<std::string> render_template(const Body& body, const ValueDict& variables) {
  return Renderer(variables).render(body);
}

}  // namespace mixserve::jinja
