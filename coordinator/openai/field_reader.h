#pragma once
// Typed, range-checked reads of a JSON request body's fields. A field that is absent or null reads as
// nullopt (the default applies); a wrong type or an out-of-range value records a 400 naming the field, and
// the first such error is the one reported. JSON booleans are never numbers; integers accept 3.0 but not 3.5.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/openai/api_error.h"

namespace mixserve {

class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& object) : object_(object) {}

  // The field's value, nullptr when absent or null.
  const nlohmann::json* field(const char* key) const;

  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi);
  // A number in [lo, hi]; with lo_open, in (lo, hi]. Non-finite values are out of range.
  std::optional<double> number(const char* key, double lo, double hi, bool lo_open = false);
  std::optional<bool> boolean(const char* key);
  std::optional<std::string> string(const char* key);

  void fail(ApiError error);
  bool ok() const { return !error_; }
  const ApiError& error() const { return *error_; }

 private:
  void type_error(const char* key, const char* expected);
  const nlohmann::json& object_;
  std::optional<ApiError> error_;
};

// "an integer", "a string", ... naming the JSON type of `value` for error messages.
std::string json_type_name(const nlohmann::json& value);

}  // namespace mixserve
