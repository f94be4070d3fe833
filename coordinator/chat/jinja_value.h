#pragma once
// The values a chat template computes with, modelled on the Python objects jinja2 hands a template:
// None, bool, int, float, str, list/tuple, dict (insertion-ordered, like a Python dict), namespace() objects,
// functions, and jinja2's default Undefined (prints as "", is falsy and iterates as empty, but using it in
// arithmetic, calling it or reading an attribute of it is an error). Lists and dicts are immutable and shared;
// a namespace is the one mutable, reference-semantics object (`{% set ns.x = ... %}`).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace mixserve::jinja {

class Value;
using ValueList = std::vector<Value>;
using ValueDict = std::vector<std::pair<std::string, Value>>;  // insertion order; keys are unique

struct Undefined {
  std::string message;  // jinja2's UndefinedError text for when this value is misused, e.g. "'x' is undefined"
};
struct None {};
struct ListData {
  ValueList items;
  bool is_tuple = false;
};
struct DictData {
  ValueDict items;
};
struct NamespaceData {
  ValueDict attributes;
};
// A global function (raise_exception, range, ...) or a method bound to its receiver (e.g. `text.strip`).
struct Function {
  std::string name;
  std::shared_ptr<const Value> receiver;  // null for globals
};

enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, namespace_object, function };

class Value {
 public:
  Value() : data_(None{}) {}
  Value(bool b) : data_(b) {}  // NOLINT: literals convert implicitly, as in Python
  Value(int64_t i) : data_(i) {}  // NOLINT
  Value(int i) : data_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double f) : data_(f) {}  // NOLINT
  Value(std::string s) : data_(std::move(s)) {}  // NOLINT
  Value(const char* s) : data_(std::string(s)) {}  // NOLINT

  static Value undefined(std::string message) { return Value(Undefined{std::move(message)}); }
  static Value list(ValueList items, bool is_tuple = false);
  static Value dict(ValueDict items);
  static Value new_namespace(ValueDict attributes);
  static Value function(std::string name, std::shared_ptr<const Value> receiver = nullptr);
  // JSON objects keep the order nlohmann gives them: sorted keys for `json`, insertion order for `ordered_json`.
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_number() const { return kind() == Kind::integer || kind() == Kind::floating || kind() == Kind::boolean; }

  const std::string& undefined_message() const { return std::get<Undefined>(data_).message; }
  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const ValueList& as_list() const { return std::get<std::shared_ptr<const ListData>>(data_)->items; }
  bool is_tuple() const { return std::get<std::shared_ptr<const ListData>>(data_)->is_tuple; }
  const ValueDict& as_dict() const { return std::get<std::shared_ptr<const DictData>>(data_)->items; }
  NamespaceData& as_namespace() const { return *std::get<std::shared_ptr<NamespaceData>>(data_); }
  const Function& as_function() const { return std::get<Function>(data_); }

  // Numbers as Python sees them: bool is an int (True == 1), int widens to float.
  int64_t to_int() const;
  double to_float() const;

  // Python truthiness; Undefined is falsy.
  bool truthy() const;
  // "dict object", "str object", "None", ... as jinja2 names a type in its error messages.
  std::string type_name() const;

 private:
  explicit Value(Undefined u) : data_(std::move(u)) {}
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<const ListData>,
               std::shared_ptr<const DictData>, std::shared_ptr<NamespaceData>, Function>
      data_;
};

// A dict key or namespace attribute; nullptr when absent.
const Value* find_key(const ValueDict& dict, const std::string& key);

// str(value): what `{{ value }}` prints. Undefined prints as "".
std::string to_str(const Value& v);
// repr(value): how Python prints a value inside a list or dict.
std::string to_repr(const Value& v);
// json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys) as HF's tojson filter calls it;
// `indent` is the per-level indent string, or nullopt for the single-line form with ", " and ": ".
Result<std::string> to_json(const Value& v, const std::optional<std::string>& indent, bool sort_keys);

// Python ==, where 1 == 1.0 == True, and Undefined equals only Undefined (jinja2's Undefined.__eq__).
bool values_equal(const Value& a, const Value& b);
// Python <, defined between numbers, between strings and between lists; anything else is an error.
Result<bool> value_less(const Value& a, const Value& b);

}  // namespace mixserve::jinja
