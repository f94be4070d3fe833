#include "coordinator/openai/field_reader.h"

#include <cmath>
#include <sstream>

namespace mixserve {
namespace {

std::string format_bound(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

std::string json_type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

const nlohmann::json* FieldReader::field(const char* key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::fail(ApiError error) {
  if (!error_) error_ = std::move(error);
}

void FieldReader::type_error(const char* key, const char* expected) {
  fail(bad_request("'" + std::string(key) + "' must be " + expected + ", got " + json_type_name(*field(key)), key));
}

std::optional<int64_t> FieldReader::integer(const char* key, int64_t lo, int64_t hi) {
  const nlohmann::json* v = field(key);
  if (!v) return std::nullopt;
  int64_t value = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      value = INT64_MAX;
    } else {
      value = v->get<int64_t>();
    }
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             v->get<double>() == std::floor(v->get<double>()) && std::fabs(v->get<double>()) < 9.2e18) {
    value = static_cast<int64_t>(v->get<double>());
  } else {
    type_error(key, "an integer");
    return std::nullopt;
  }
  if (value < lo || value > hi) {
    fail(bad_request("'" + std::string(key) + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "], got " + std::to_string(value),
                     key));
    return std::nullopt;
  }
  return value;
}

std::optional<double> FieldReader::number(const char* key, double lo, double hi, bool lo_open) {
  const nlohmann::json* v = field(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    type_error(key, "a number");
    return std::nullopt;
  }
  const double value = v->get<double>();
  const bool above_lo = lo_open ? value > lo : value >= lo;
  if (!std::isfinite(value) || !above_lo || value > hi) {
    fail(bad_request("'" + std::string(key) + "' must be in " + (lo_open ? "(" : "[") + format_bound(lo) + ", " +
                         format_bound(hi) + "], got " + format_bound(value),
                     key));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> FieldReader::boolean(const char* key) {
  const nlohmann::json* v = field(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    type_error(key, "a boolean");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::string> FieldReader::string(const char* key) {
  const nlohmann::json* v = field(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    type_error(key, "a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

}  // namespace mixserve
