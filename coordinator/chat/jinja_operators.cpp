#include "coordinator/chat/jinja_operators.h"

#include <cmath>

#include "coordinator/chat/jinja_text.h"

namespace mixserve::jinja {
namespace {

bool int_like(const Value& v) { return v.kind() == Kind::integer || v.kind() == Kind::boolean; }

std::string short_type(const Value& v) {
  std::string t = v.type_name();
  const size_t suffix = t.find(" object");
  return suffix == std::string::npos ? t : t.substr(0, suffix);
}

Status unsupported_operands(std::string_view op, const Value& x, const Value& y) {
  return invalid_argument("unsupported operand type(s) for " + std::string(op) + ": '" + short_type(x) + "' and '" +
                          short_type(y) + "'");
}

Result<Value> repeat(const Value& seq, int64_t times) {
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value(out);
  }
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return Value::list(std::move(out), seq.is_tuple());
}

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

Result<Value> numeric_op(std::string_view op, const Value& x, const Value& y) {
  if (int_like(x) && int_like(y)) {
    const int64_t a = x.to_int(), b = y.to_int();
    if (op == "+") return Value(a + b);
    if (op == "-") return Value(a - b);
    if (op == "*") return Value(a * b);
    if ((op == "/" || op == "//" || op == "%") && b == 0) return invalid_argument("division by zero");
    if (op == "/") return Value(static_cast<double>(a) / static_cast<double>(b));
    if (op == "//") return Value(floor_div(a, b));
    if (op == "%") return Value(a - floor_div(a, b) * b);
    if (op == "**" && b >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b; ++i) r *= a;
      return Value(r);
    }
  }
  const double a = x.to_float(), b = y.to_float();
  if (op == "+") return Value(a + b);
  if (op == "-") return Value(a - b);
  if (op == "*") return Value(a * b);
  if (op == "**") return Value(std::pow(a, b));
  if (b == 0.0) return invalid_argument("float division by zero");
  if (op == "/") return Value(a / b);
  if (op == "//") return Value(std::floor(a / b));
  double r = std::fmod(a, b);  // Python's % takes the sign of the divisor
  if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
  return Value(r);
}

bool in_container(const Value& item, const Value& container, Status& status) {
  if (container.is_string()) {
    if (!item.is_string()) {
      status = invalid_argument("'in <string>' requires string as left operand, not " + short_type(item));
      return false;
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.kind() == Kind::dict) return item.is_string() && find_key(container.as_dict(), item.as_string());
  if (container.kind() == Kind::list) {
    for (const Value& v : container.as_list())
      if (values_equal(item, v)) return true;
    return false;
  }
  if (container.is_undefined()) return false;  // Undefined iterates as empty
  status = invalid_argument("argument of type '" + short_type(container) + "' is not iterable");
  return false;
}

// Python's PySlice_AdjustIndices for one bound.
int64_t clamp_bound(const Value& bound, int64_t n, int64_t step, bool is_start) {
  if (bound.is_none()) return step > 0 ? (is_start ? 0 : n) : (is_start ? n - 1 : -1);
  int64_t i = bound.to_int();
  if (i < 0) {
    i += n;
    if (i < 0) i = step < 0 ? -1 : 0;
  } else if (i >= n) {
    i = step < 0 ? n - 1 : n;
  }
  return i;
}

}  // namespace

Result<Value> binary_op(std::string_view op, const Value& x, const Value& y) {
  if (op == "~") return Value(to_str(x) + to_str(y));
  if (x.is_undefined()) return invalid_argument(x.undefined_message());
  if (y.is_undefined()) return invalid_argument(y.undefined_message());
  if (x.is_number() && y.is_number()) return numeric_op(op, x, y);
  if (op == "+" && x.is_string() && y.is_string()) return Value(x.as_string() + y.as_string());
  if (op == "+" && x.kind() == Kind::list && y.kind() == Kind::list && x.is_tuple() == y.is_tuple()) {
    ValueList out = x.as_list();
    out.insert(out.end(), y.as_list().begin(), y.as_list().end());
    return Value::list(std::move(out), x.is_tuple());
  }
  if (op == "*" && (x.is_string() || x.kind() == Kind::list) && int_like(y)) return repeat(x, y.to_int());
  if (op == "*" && int_like(x) && (y.is_string() || y.kind() == Kind::list)) return repeat(y, x.to_int());
  if (op == "%" && x.is_string()) return unsupported("printf-style string formatting with '%'");
  if (op == "+" && x.is_string())
    return invalid_argument("can only concatenate str (not \"" + short_type(y) + "\") to str");
  return unsupported_operands(op, x, y);
}

Result<Value> unary_op(std::string_view op, const Value& x) {
  if (x.is_undefined()) return invalid_argument(x.undefined_message());
  if (x.kind() == Kind::floating) return Value(op == "-" ? -x.as_float() : x.as_float());
  if (int_like(x)) return Value(op == "-" ? -x.to_int() : x.to_int());
  return invalid_argument("bad operand type for unary " + std::string(op) + ": '" + short_type(x) + "'");
}

Result<bool> compare_op(std::string_view op, const Value& x, const Value& y) {
  if (op == "==") return values_equal(x, y);
  if (op == "!=") return !values_equal(x, y);
  if (op == "in" || op == "not in") {
    Status status;
    const bool found = in_container(x, y, status);
    if (!status.ok()) return status;
    return op == "in" ? found : !found;
  }
  if (op == "<") return value_less(x, y);
  if (op == ">") return value_less(y, x);
  if (op == "<=" || op == ">=") {
    MIXSERVE_ASSIGN_OR_RETURN(bool strictly, op == "<=" ? value_less(y, x) : value_less(x, y));
    return !strictly;
  }
  return internal_error("unknown comparison '" + std::string(op) + "'");
}

Result<Value> slice_value(const Value& x, const Value& start, const Value& stop, const Value& step) {
  if (x.is_undefined()) return invalid_argument(x.undefined_message());
  for (const Value* bound : {&start, &stop, &step})
    if (!bound->is_none() && !int_like(*bound)) return invalid_argument("slice indices must be integers or None");
  const int64_t s = step.is_none() ? 1 : step.to_int();
  if (s == 0) return invalid_argument("slice step cannot be zero");
  if (x.kind() == Kind::list) {
    const ValueList& items = x.as_list();
    const auto n = static_cast<int64_t>(items.size());
    ValueList out;
    for (int64_t i = clamp_bound(start, n, s, true), end = clamp_bound(stop, n, s, false); s > 0 ? i < end : i > end;
         i += s)
      out.push_back(items[static_cast<size_t>(i)]);
    return Value::list(std::move(out), x.is_tuple());
  }
  if (x.is_string()) {
    const std::string& str = x.as_string();
    const std::vector<size_t> off = code_point_offsets(str);
    const auto n = static_cast<int64_t>(off.size() - 1);
    std::string out;
    for (int64_t i = clamp_bound(start, n, s, true), end = clamp_bound(stop, n, s, false); s > 0 ? i < end : i > end;
         i += s) {
      const auto u = static_cast<size_t>(i);
      out += str.substr(off[u], off[u + 1] - off[u]);
    }
    return Value(out);
  }
  return invalid_argument("'" + short_type(x) + "' object is not subscriptable");
}

}  // namespace mixserve::jinja
