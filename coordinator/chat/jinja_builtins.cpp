#include "coordinator/chat/jinja_builtins.h"

#include <algorithm>
#include <ctime>

#include "coordinator/chat/jinja_text.h"

namespace mixserve::jinja {
namespace {

constexpr std::string_view kStrMethods[] = {"strip",   "lstrip", "rstrip", "split", "startswith", "endswith",
                                            "upper",   "lower",  "title",  "capitalize", "replace", "join"};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get"};
constexpr std::string_view kGlobals[] = {"namespace", "dict", "range", "strftime_now", "raise_exception"};
constexpr int64_t kMaxRange = 1 << 20;  // a template has no business building longer lists

template <size_t N>
bool contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

bool has_method(const Value& obj, std::string_view name) {
  return (obj.is_string() && contains(kStrMethods, name)) || (obj.kind() == Kind::dict && contains(kDictMethods, name));
}

Value no_attribute(const Value& obj, const std::string& name) {
  return Value::undefined("'" + obj.type_name() + "' has no attribute '" + name + "'");
}

Value bound_method(const Value& obj, std::string_view name) {
  return Value::function(std::string(name), std::make_shared<const Value>(obj));
}

Result<std::string> string_arg(const std::optional<Value>& v, std::string_view what) {
  if (!v || !v->is_string()) return invalid_argument(std::string(what) + " must be a string");
  return v->as_string();
}

Result<Value> call_str_method(const std::string& s, std::string_view name, const CallArgs& args) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"chars"}, name));
    const StripSide side = name == "strip" ? StripSide::both : name == "lstrip" ? StripSide::left : StripSide::right;
    if (!a[0] || a[0]->is_none()) return Value(python_strip(s, side));
    MIXSERVE_ASSIGN_OR_RETURN(std::string chars, string_arg(a[0], "strip() argument"));
    return Value(python_strip(s, side, chars));
  }
  if (name == "split") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"sep", "maxsplit"}, name));
    const long maxsplit = a[1] ? static_cast<long>(a[1]->to_int()) : -1;
    std::optional<std::string> sep;
    if (a[0] && !a[0]->is_none()) {
      MIXSERVE_ASSIGN_OR_RETURN(sep, string_arg(a[0], "split() separator"));
      if (sep->empty()) return invalid_argument("empty separator");
    }
    ValueList parts;
    for (auto& p : python_split(s, sep ? std::optional<std::string_view>(*sep) : std::nullopt, maxsplit))
      parts.emplace_back(std::move(p));
    return Value::list(std::move(parts));
  }
  if (name == "startswith" || name == "endswith") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"prefix"}, name));
    if (!a[0]) return invalid_argument(std::string(name) + "() takes one argument");
    ValueList candidates = a[0]->kind() == Kind::list && a[0]->is_tuple() ? a[0]->as_list() : ValueList{*a[0]};
    for (const Value& c : candidates) {
      MIXSERVE_ASSIGN_OR_RETURN(std::string affix, string_arg(c, std::string(name) + "() argument"));
      const bool hit = affix.size() <= s.size() &&
                       (name == "startswith" ? s.compare(0, affix.size(), affix) == 0
                                             : s.compare(s.size() - affix.size(), affix.size(), affix) == 0);
      if (hit) return Value(true);
    }
    return Value(false);
  }
  if (name == "replace") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"old", "new", "count"}, name));
    MIXSERVE_ASSIGN_OR_RETURN(std::string old_sub, string_arg(a[0], "replace() old"));
    MIXSERVE_ASSIGN_OR_RETURN(std::string new_sub, string_arg(a[1], "replace() new"));
    return Value(python_replace(s, old_sub, new_sub, a[2] ? static_cast<long>(a[2]->to_int()) : -1));
  }
  if (name == "join") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"iterable"}, name));
    if (!a[0]) return invalid_argument("join() takes one argument");
    MIXSERVE_ASSIGN_OR_RETURN(ValueList items, iterate(*a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        return invalid_argument("sequence item " + std::to_string(i) + ": expected str instance");
      out += (i ? s : "") + items[i].as_string();
    }
    return Value(out);
  }
  MIXSERVE_RETURN_IF_ERROR(bind_args(args, {}, name).status());
  auto mapped = name == "upper" ? ascii_upper(s) : name == "lower" ? ascii_lower(s)
                : name == "title" ? ascii_title(s) : ascii_capitalize(s);
  if (!mapped) return unsupported("str." + std::string(name) + "() of non-ASCII text");
  return Value(std::move(*mapped));
}

Result<Value> call_dict_method(const ValueDict& d, std::string_view name, const CallArgs& args) {
  if (name == "get") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"key", "default"}, name));
    if (!a[0]) return invalid_argument("get() takes a key");
    const Value* found = a[0]->is_string() ? find_key(d, a[0]->as_string()) : nullptr;
    return found ? *found : a[1].value_or(Value());
  }
  MIXSERVE_RETURN_IF_ERROR(bind_args(args, {}, name).status());
  ValueList out;
  for (const auto& [key, value] : d) {
    if (name == "items") out.push_back(Value::list({Value(key), value}, /*is_tuple=*/true));
    else out.push_back(name == "keys" ? Value(key) : value);
  }
  return Value::list(std::move(out));
}

Result<Value> strftime_now(const std::string& format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  if (format.empty()) return Value(std::string());
  for (size_t size = 64; size <= 4096; size *= 4) {
    std::string buf(size, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &local);
    if (n > 0) return Value(buf.substr(0, n));
  }
  return invalid_argument("strftime_now: format produced no output");
}

}  // namespace

Result<std::vector<std::optional<Value>>> bind_args(const CallArgs& args, std::initializer_list<const char*> params,
                                                    std::string_view function) {
  std::vector<std::optional<Value>> bound(params.size());
  if (args.positional.size() > params.size())
    return invalid_argument(std::string(function) + "() takes at most " + std::to_string(params.size()) +
                            " arguments");
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find_if(params.begin(), params.end(), [&](const char* p) { return key == p; });
    if (it == params.end()) return invalid_argument(std::string(function) + "() got an unexpected argument '" + key + "'");
    bound[static_cast<size_t>(it - params.begin())] = value;
  }
  return bound;
}

Value get_attribute(const Value& obj, const std::string& name) {
  if (has_method(obj, name)) return bound_method(obj, name);
  if (obj.kind() == Kind::dict) {
    const Value* v = find_key(obj.as_dict(), name);
    return v ? *v : no_attribute(obj, name);
  }
  if (obj.kind() == Kind::namespace_object) {
    const Value* v = find_key(obj.as_namespace().attributes, name);
    return v ? *v : no_attribute(obj, name);
  }
  return no_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (key.is_string()) {
    if (obj.kind() == Kind::dict) {
      if (const Value* v = find_key(obj.as_dict(), key.as_string())) return *v;
    }
    return get_attribute(obj, key.as_string());
  }
  const bool int_key = key.kind() == Kind::integer || key.kind() == Kind::boolean;
  if (int_key && (obj.kind() == Kind::list || obj.is_string())) {
    const std::vector<size_t> offsets = obj.is_string() ? code_point_offsets(obj.as_string()) : std::vector<size_t>{};
    const int64_t n = obj.is_string() ? static_cast<int64_t>(offsets.size() - 1)
                                      : static_cast<int64_t>(obj.as_list().size());
    int64_t i = key.to_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) {
      if (obj.kind() == Kind::list) return obj.as_list()[static_cast<size_t>(i)];
      const auto u = static_cast<size_t>(i);
      return Value(obj.as_string().substr(offsets[u], offsets[u + 1] - offsets[u]));
    }
  }
  return Value::undefined(obj.type_name() + " has no element " + to_repr(key));
}

bool is_supported_method(std::string_view name) { return contains(kStrMethods, name) || contains(kDictMethods, name); }

bool is_global_function(std::string_view name) { return contains(kGlobals, name); }

Result<Value> call_method(const Value& receiver, std::string_view name, const CallArgs& args) {
  if (receiver.is_undefined()) return invalid_argument(receiver.undefined_message());
  if (receiver.is_string() && contains(kStrMethods, name)) return call_str_method(receiver.as_string(), name, args);
  if (receiver.kind() == Kind::dict && contains(kDictMethods, name)) return call_dict_method(receiver.as_dict(), name, args);
  // jinja2 looks the attribute up (a dict key, say), gets Undefined and fails when calling it.
  const Value attribute = get_attribute(receiver, std::string(name));
  if (attribute.is_undefined()) return invalid_argument(attribute.undefined_message());
  return invalid_argument("'" + attribute.type_name() + "' object is not callable");
}

Result<Value> call_global(std::string_view name, const CallArgs& args) {
  if (name == "namespace" || name == "dict") {
    ValueDict items;
    for (const Value& p : args.positional) {  // namespace({...}) and dict({...}) copy a mapping
      if (p.kind() != Kind::dict) return invalid_argument(std::string(name) + "() positional argument must be a dict");
      items.insert(items.end(), p.as_dict().begin(), p.as_dict().end());
    }
    for (const auto& [key, value] : args.keyword) {
      auto it = std::find_if(items.begin(), items.end(), [&](const auto& kv) { return kv.first == key; });
      if (it != items.end()) it->second = value;
      else items.emplace_back(key, value);
    }
    return name == "dict" ? Value::dict(std::move(items)) : Value::new_namespace(std::move(items));
  }
  if (name == "range") {
    if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3)
      return invalid_argument("range() takes 1 to 3 positional arguments");
    for (const Value& v : args.positional)
      if (v.kind() != Kind::integer && v.kind() != Kind::boolean) return invalid_argument("range() arguments must be int");
    const bool one = args.positional.size() == 1;
    const int64_t start = one ? 0 : args.positional[0].to_int();
    const int64_t stop = one ? args.positional[0].to_int() : args.positional[1].to_int();
    const int64_t step = args.positional.size() == 3 ? args.positional[2].to_int() : 1;
    if (step == 0) return invalid_argument("range() arg 3 must not be zero");
    ValueList out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (static_cast<int64_t>(out.size()) >= kMaxRange) return invalid_argument("range() longer than 1048576 items");
      out.emplace_back(i);
    }
    return Value::list(std::move(out));
  }
  if (name == "strftime_now") {
    MIXSERVE_ASSIGN_OR_RETURN(auto a, bind_args(args, {"format"}, name));
    MIXSERVE_ASSIGN_OR_RETURN(std::string format, string_arg(a[0], "strftime_now() format"));
    return strftime_now(format);
  }
  return internal_error("global function '" + std::string(name) + "' is handled by the evaluator");
}

}  // namespace mixserve::jinja
