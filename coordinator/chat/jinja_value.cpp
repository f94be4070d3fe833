#include "coordinator/chat/jinja_value.h"

#include <algorithm>

#include "coordinator/chat/jinja_text.h"

namespace mixserve::jinja {
namespace {

template <typename Json>
Value value_from_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      for (const auto& item : j) items.push_back(value_from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      ValueDict items;
      for (auto it = j.begin(); it != j.end(); ++it) items.emplace_back(it.key(), value_from_json(it.value()));
      return Value::dict(std::move(items));
    }
    default: return Value();  // binary and discarded values do not occur in parsed JSON
  }
}

bool is_int_like(const Value& v) { return v.kind() == Kind::integer || v.kind() == Kind::boolean; }

void append_json(const Value& v, const std::optional<std::string>& indent, bool sort_keys, int depth,
                 std::string& out, Status& status) {
  if (!status.ok()) return;
  // json.dumps layout: with an indent, each item starts on a new line indented one level deeper than its
  // container and items are separated by ","; without one, everything is on one line separated by ", ".
  auto line_at = [&](int level) {
    std::string s = "\n";
    for (int i = 0; i < level; ++i) s += *indent;
    return s;
  };
  const std::string newline = indent ? line_at(depth + 1) : "";
  const std::string closing = indent ? line_at(depth) : "";
  const char* item_separator = indent ? "," : ", ";
  switch (v.kind()) {
    case Kind::none: out += "null"; return;
    case Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Kind::integer: out += std::to_string(v.as_int()); return;
    case Kind::floating: {
      const std::string r = python_float_repr(v.as_float());
      out += r == "nan" ? "NaN" : r == "inf" ? "Infinity" : r == "-inf" ? "-Infinity" : r;
      return;
    }
    case Kind::string: out += json_quote(v.as_string()); return;
    case Kind::list: {
      const ValueList& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        out += i == 0 ? newline : item_separator + newline;
        append_json(items[i], indent, sort_keys, depth + 1, out, status);
      }
      out += closing + "]";
      return;
    }
    case Kind::dict: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict()) items.push_back(&kv);
      if (sort_keys) std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      if (items.empty()) {
        out += "{}";
        return;
      }
      out += "{";
      for (size_t i = 0; i < items.size(); ++i) {
        out += i == 0 ? newline : item_separator + newline;
        out += json_quote(items[i]->first) + ": ";
        append_json(items[i]->second, indent, sort_keys, depth + 1, out, status);
      }
      out += closing + "}";
      return;
    }
    case Kind::undefined:
    case Kind::namespace_object:
    case Kind::function:
      status = invalid_argument("Object of type " + v.type_name() + " is not JSON serializable");
      return;
  }
}

}  // namespace

Value Value::list(ValueList items, bool is_tuple) {
  Value v;
  v.data_ = std::make_shared<const ListData>(ListData{std::move(items), is_tuple});
  return v;
}

Value Value::dict(ValueDict items) {
  Value v;
  v.data_ = std::make_shared<const DictData>(DictData{std::move(items)});
  return v;
}

Value Value::new_namespace(ValueDict attributes) {
  Value v;
  v.data_ = std::make_shared<NamespaceData>(NamespaceData{std::move(attributes)});
  return v;
}

Value Value::function(std::string name, std::shared_ptr<const Value> receiver) {
  Value v;
  v.data_ = Function{std::move(name), std::move(receiver)};
  return v;
}

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

int64_t Value::to_int() const { return kind() == Kind::boolean ? (as_bool() ? 1 : 0) : as_int(); }

double Value::to_float() const { return kind() == Kind::floating ? as_float() : static_cast<double>(to_int()); }

bool Value::truthy() const {
  switch (kind()) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return as_bool();
    case Kind::integer: return as_int() != 0;
    case Kind::floating: return as_float() != 0.0;
    case Kind::string: return !as_string().empty();
    case Kind::list: return !as_list().empty();
    case Kind::dict: return !as_dict().empty();
    case Kind::namespace_object:
    case Kind::function: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "None";
    case Kind::boolean: return "bool object";
    case Kind::integer: return "int object";
    case Kind::floating: return "float object";
    case Kind::string: return "str object";
    case Kind::list: return is_tuple() ? "tuple object" : "list object";
    case Kind::dict: return "dict object";
    case Kind::namespace_object: return "Namespace";
    case Kind::function: return "function";
  }
  return "object";
}

const Value* find_key(const ValueDict& dict, const std::string& key) {
  for (const auto& [k, v] : dict)
    if (k == key) return &v;
  return nullptr;
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return "";
    case Kind::none: return "None";
    case Kind::boolean: return v.as_bool() ? "True" : "False";
    case Kind::integer: return std::to_string(v.as_int());
    case Kind::floating: return python_float_repr(v.as_float());
    case Kind::string: return v.as_string();
    case Kind::list:
    case Kind::dict: return to_repr(v);
    case Kind::namespace_object: return "<Namespace>";
    case Kind::function: return "<function " + v.as_function().name + ">";
  }
  return "";
}

std::string to_repr(const Value& v) {
  switch (v.kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::string: return python_repr_string(v.as_string());
    case Kind::list: {
      const ValueList& items = v.as_list();
      std::string out = v.is_tuple() ? "(" : "[";
      for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + to_repr(items[i]);
      if (v.is_tuple() && items.size() == 1) out += ",";
      return out + (v.is_tuple() ? ")" : "]");
    }
    case Kind::dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, value] : v.as_dict()) {
        out += (first ? "" : ", ") + python_repr_string(key) + ": " + to_repr(value);
        first = false;
      }
      return out + "}";
    }
    default: return to_str(v);
  }
}

Result<std::string> to_json(const Value& v, const std::optional<std::string>& indent, bool sort_keys) {
  std::string out;
  Status status;
  append_json(v, indent, sort_keys, 0, out, status);
  if (!status.ok()) return status;
  return out;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (is_int_like(a) && is_int_like(b)) return a.to_int() == b.to_int();
    return a.to_float() == b.to_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.as_string() == b.as_string();
    case Kind::list: {
      if (a.is_tuple() != b.is_tuple() || a.as_list().size() != b.as_list().size()) return false;
      for (size_t i = 0; i < a.as_list().size(); ++i)
        if (!values_equal(a.as_list()[i], b.as_list()[i])) return false;
      return true;
    }
    case Kind::dict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [key, value] : a.as_dict()) {
        const Value* other = find_key(b.as_dict(), key);
        if (other == nullptr || !values_equal(value, *other)) return false;
      }
      return true;
    }
    case Kind::namespace_object: return &a.as_namespace() == &b.as_namespace();
    case Kind::function: return a.as_function().name == b.as_function().name &&
                                a.as_function().receiver == b.as_function().receiver;
    default: return false;
  }
}

Result<bool> value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (is_int_like(a) && is_int_like(b)) return a.to_int() < b.to_int();
    return a.to_float() < b.to_float();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order is code point order
  if (a.kind() == Kind::list && b.kind() == Kind::list && a.is_tuple() == b.is_tuple()) {
    const ValueList& x = a.as_list();
    const ValueList& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (values_equal(x[i], y[i])) continue;
      return value_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) return invalid_argument(a.undefined_message());
  if (b.is_undefined()) return invalid_argument(b.undefined_message());
  return invalid_argument("'<' not supported between instances of '" + a.type_name() + "' and '" +
                          b.type_name() + "'");
}

}  // namespace mixserve::jinja
