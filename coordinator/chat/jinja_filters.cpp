#include "coordinator/chat/jinja_filters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "coordinator/chat/jinja_builtins.h"
#include "coordinator/chat/jinja_text.h"

namespace mixserve::jinja {
namespace {

constexpr std::string_view kFilters[] = {
    "abs",  "capitalize", "count", "d",       "default", "first",      "float",  "int",        "items", "join",
    "last", "length",     "list",  "lower",   "map",     "reject",     "rejectattr", "replace", "reverse", "safe",
    "select", "selectattr", "string", "title", "tojson", "trim",     "upper"};
constexpr std::string_view kTests[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "gt", "in",
    "integer", "iterable", "le", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence",
    "string", "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">="};

template <size_t N>
bool contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

std::string python_type(const Value& v) {
  std::string t = v.type_name();
  const size_t suffix = t.find(" object");
  return suffix == std::string::npos ? t : t.substr(0, suffix);
}

Result<int64_t> length_of(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return 0;
    case Kind::string: return static_cast<int64_t>(code_point_count(v.as_string()));
    case Kind::list: return static_cast<int64_t>(v.as_list().size());
    case Kind::dict: return static_cast<int64_t>(v.as_dict().size());
    default: return invalid_argument("object of type '" + python_type(v) + "' has no len()");
  }
}

// Python int(str) / float(str): surrounding whitespace allowed, underscores between digits allowed.
std::optional<int64_t> parse_int(const std::string& s) {
  std::string t = python_strip(s, StripSide::both);
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (*end != '\0') return std::nullopt;
  return v;
}

std::optional<double> parse_float(const std::string& s) {
  const std::string t = python_strip(s, StripSide::both);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return v;
}

Result<Value> case_map(std::string_view filter, const Value& input) {
  const std::string s = to_str(input);
  auto mapped = filter == "upper" ? ascii_upper(s) : filter == "lower" ? ascii_lower(s)
                : filter == "title" ? ascii_title(s) : ascii_capitalize(s);
  if (!mapped) return unsupported("filter '" + std::string(filter) + "' on non-ASCII text");
  return Value(std::move(*mapped));
}

// selectattr/map(attribute=...) follow dotted paths with item access: "function.name".
Value lookup_path(const Value& item, const std::string& path) {
  Value v = item;
  for (size_t start = 0; start <= path.size();) {
    const size_t dot = std::min(path.find('.', start), path.size());
    const std::string part = path.substr(start, dot - start);
    if (v.is_undefined()) return v;
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = numeric ? get_item(v, Value(static_cast<int64_t>(std::atoll(part.c_str())))) : get_item(v, Value(part));
    start = dot + 1;
  }
  return v;
}

// select/reject/selectattr/rejectattr: args are [attribute,] [test name, test args...].
Result<Value> filter_items(std::string_view filter, const Value& input, const CallArgs& args) {
  const bool by_attribute = filter == "selectattr" || filter == "rejectattr";
  const bool keep_when = filter == "select" || filter == "selectattr";
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string())
      return invalid_argument(std::string(filter) + " needs an attribute name");
    attribute = args.positional[next++].as_string();
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) return invalid_argument(std::string(filter) + ": test name must be a string");
    test = args.positional[next++].as_string();
    if (!is_supported_test(test)) return unsupported("test '" + test + "' in " + std::string(filter));
  }
  const std::vector<Value> test_args(args.positional.begin() + static_cast<long>(next), args.positional.end());
  MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
  ValueList out;
  for (Value& item : items) {
    const Value subject = by_attribute ? lookup_path(item, attribute) : item;
    bool passed = subject.truthy();
    if (!test.empty()) {
      MIXSERVE_ASSIGN_OR_RETURN(passed, apply_test(test, subject, test_args));
    }
    if (passed == keep_when) out.push_back(std::move(item));
  }
  return Value::list(std::move(out));
}

Result<Value> map_items(const Value& input, const CallArgs& args) {
  MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
  ValueList out;
  if (args.positional.empty()) {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"attribute", "default"}, "map"));
    if (!a[0] || !a[0]->is_string()) return invalid_argument("map() needs a filter name or attribute=");
    for (const Value& item : items) {
      Value v = lookup_path(item, a[0]->as_string());
      out.push_back(v.is_undefined() && a[1] ? *a[1] : v);
    }
    return Value::list(std::move(out));
  }
  if (!args.positional[0].is_string() || !is_supported_filter(args.positional[0].as_string()))
    return unsupported("map() with filter " + to_repr(args.positional[0]));
  const CallArgs rest{std::vector<Value>(args.positional.begin() + 1, args.positional.end()), args.keyword};
  for (const Value& item : items) {
    MIXSERVE_ASSIGN_OR_RETURN(Value v, apply_filter(args.positional[0].as_string(), item, rest));
    out.push_back(std::move(v));
  }
  return Value::list(std::move(out));
}

Result<Value> to_json_filter(const Value& input, const CallArgs& args) {
  // HF: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> json.dumps(...)
  MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson"));
  if (a[0] && a[0]->truthy()) return unsupported("tojson(ensure_ascii=True)");
  if (a[2] && !a[2]->is_none()) return unsupported("tojson(separators=...)");
  std::optional<std::string> indent;
  if (a[1] && a[1]->is_string()) indent = a[1]->as_string();
  else if (a[1] && (a[1]->kind() == Kind::integer || a[1]->kind() == Kind::boolean))
    indent = std::string(static_cast<size_t>(std::max<int64_t>(0, a[1]->to_int())), ' ');
  else if (a[1] && !a[1]->is_none()) return invalid_argument("tojson indent must be an int or a string");
  MIXSERVE_ASSIGN_OR_RETURN(std::string json, to_json(input, indent, a[3] && a[3]->truthy()));
  return Value(std::move(json));
}

Result<Value> first_or_last(std::string_view filter, const Value& input) {
  if (input.is_undefined()) return input;
  MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
  if (items.empty()) return Value::undefined("No " + std::string(filter) + " item, sequence was empty.");
  return filter == "first" ? items.front() : items.back();
}

}  // namespace

bool is_supported_filter(std::string_view name) { return contains(kFilters, name); }
bool is_supported_test(std::string_view name) { return contains(kTests, name); }

Result<ValueList> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return ValueList{};
    case Kind::list: return v.as_list();
    case Kind::dict: {
      ValueList keys;
      for (const auto& kv : v.as_dict()) keys.emplace_back(kv.first);
      return keys;
    }
    case Kind::string: {
      const std::string& s = v.as_string();
      const std::vector<size_t> off = code_point_offsets(s);
      ValueList chars;
      for (size_t i = 0; i + 1 < off.size(); ++i) chars.emplace_back(s.substr(off[i], off[i + 1] - off[i]));
      return chars;
    }
    default: return invalid_argument("'" + python_type(v) + "' object is not iterable");
  }
}

Result<Value> apply_filter(std::string_view name, const Value& input, const CallArgs& args) {
  if (name == "trim") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"chars"}, name));
    const std::string s = to_str(input);
    if (!a[0] || a[0]->is_none()) return Value(python_strip(s, StripSide::both));
    return Value(python_strip(s, StripSide::both, to_str(*a[0])));
  }
  if (name == "length" || name == "count") {
    MIXSERVE_ASSIGN_OR_RETURN(int64_t n, length_of(input));
    return Value(n);
  }
  if (name == "default" || name == "d") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"default_value", "boolean"}, name));
    const bool use_default = input.is_undefined() || (a[1] && a[1]->truthy() && !input.truthy());
    return use_default ? a[0].value_or(Value(std::string())) : input;
  }
  if (name == "tojson") return to_json_filter(input, args);
  if (name == "string") return Value(to_str(input));
  if (name == "safe") return input;
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") return case_map(name, input);
  if (name == "first" || name == "last") return first_or_last(name, input);
  if (name == "join") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"d", "attribute"}, name));
    MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
    std::string out;
    const std::string separator = a[0] ? to_str(*a[0]) : "";
    for (size_t i = 0; i < items.size(); ++i)
      out += (i ? separator : "") + to_str(a[1] ? lookup_path(items[i], to_str(*a[1])) : items[i]);
    return Value(out);
  }
  if (name == "replace") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"old", "new", "count"}, name));
    if (!a[0] || !a[1]) return invalid_argument("replace needs old and new strings");
    return Value(python_replace(to_str(input), to_str(*a[0]), to_str(*a[1]),
                                a[2] && !a[2]->is_none() ? static_cast<long>(a[2]->to_int()) : -1));
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::list({});
    if (input.kind() != Kind::dict) return invalid_argument("Can only get item pairs from a mapping.");
    return call_method(input, "items", {});
  }
  if (name == "list") {
    MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
    return Value::list(std::move(items));
  }
  if (name == "reverse") {
    MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(input));
    std::reverse(items.begin(), items.end());
    if (!input.is_string()) return Value::list(std::move(items));
    std::string out;
    for (const Value& c : items) out += c.as_string();
    return Value(out);
  }
  if (name == "int" || name == "float") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"default", name == "int" ? "base" : "unused"}, name));
    if (input.is_undefined()) return invalid_argument(input.undefined_message());
    const Value fallback = a[0].value_or(name == "int" ? Value(int64_t{0}) : Value(0.0));
    if (name == "float") {
      if (input.is_number()) return Value(input.to_float());
      auto f = input.is_string() ? parse_float(input.as_string()) : std::nullopt;
      return f ? Value(*f) : fallback;
    }
    if (input.kind() == Kind::floating) return Value(static_cast<int64_t>(std::trunc(input.as_float())));
    if (input.is_number()) return Value(input.to_int());
    if (!input.is_string()) return fallback;
    if (auto i = parse_int(input.as_string())) return Value(*i);
    auto f = parse_float(input.as_string());
    return f && std::isfinite(*f) ? Value(static_cast<int64_t>(std::trunc(*f))) : fallback;
  }
  if (name == "abs") {
    if (input.kind() == Kind::floating) return Value(std::fabs(input.as_float()));
    if (input.is_number()) return Value(static_cast<int64_t>(std::llabs(input.to_int())));
    return invalid_argument("bad operand type for abs(): '" + python_type(input) + "'");
  }
  if (name == "map") return map_items(input, args);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr")
    return filter_items(name, input, args);
  return unsupported("filter '" + std::string(name) + "'");
}

Result<bool> apply_test(std::string_view name, const Value& input, const std::vector<Value>& args) {
  const Kind k = input.kind();
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return k == Kind::none;
  if (name == "boolean") return k == Kind::boolean;
  if (name == "true") return k == Kind::boolean && input.as_bool();
  if (name == "false") return k == Kind::boolean && !input.as_bool();
  if (name == "integer") return k == Kind::integer;
  if (name == "float") return k == Kind::floating;
  if (name == "number") return input.is_number();
  if (name == "string") return k == Kind::string;
  if (name == "mapping") return k == Kind::dict;
  if (name == "callable") return k == Kind::function;
  // Python's Undefined defines __iter__ and __len__, so jinja2 calls it iterable and a sequence.
  if (name == "iterable" || name == "sequence")
    return k == Kind::string || k == Kind::list || k == Kind::dict || k == Kind::undefined;
  if (name == "lower" || name == "upper") {
    const std::string s = to_str(input);
    auto lowered = ascii_lower(s);
    if (!lowered) return unsupported("test '" + std::string(name) + "' on non-ASCII text");
    const bool has_cased = std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    return has_cased && s == (name == "lower" ? *lowered : *ascii_upper(s));
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (k != Kind::integer && k != Kind::boolean) return invalid_argument("test '" + std::string(name) + "' needs an int");
    const int64_t divisor = name == "divisibleby" ? (args.empty() ? 0 : args[0].to_int()) : 2;
    if (divisor == 0) return invalid_argument("divisibleby needs a non-zero int");
    const bool divisible = input.to_int() % divisor == 0;
    return name == "odd" ? !divisible : divisible;
  }
  if (args.size() != 1) return invalid_argument("test '" + std::string(name) + "' takes one argument");
  const Value& other = args[0];
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(input, other);
  if (name == "ne" || name == "!=") return !values_equal(input, other);
  if (name == "sameas") return input.kind() == other.kind() && values_equal(input, other);
  if (name == "in") {
    MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(other));
    if (other.is_string())
      return input.is_string() && other.as_string().find(input.as_string()) != std::string::npos;
    return std::any_of(items.begin(), items.end(), [&](const Value& v) { return values_equal(input, v); });
  }
  if (name == "lt" || name == "<") return value_less(input, other);
  if (name == "gt" || name == ">") return value_less(other, input);
  if (name == "le" || name == "<=") {
    MIXSERVE_ASSIGN_OR_RETURN(bool greater, value_less(other, input));
    return !greater;
  }
  if (name == "ge" || name == ">=") {
    MIXSERVE_ASSIGN_OR_RETURN(bool less, value_less(input, other));
    return !less;
  }
  return unsupported("test '" + std::string(name) + "'");
}

}  // namespace mixserve::jinja
