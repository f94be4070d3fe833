#include "coordinator/tokenizer/json_fields.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace mixserve {

using nlohmann::json;

Result<json> read_json_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return not_found(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return io_error(path + ": cannot read");
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    return invalid_argument(path + ": malformed JSON: " + e.what());
  }
}

Result<std::string> json_type_of(const json& j, const std::string& where) {
  if (!j.is_object()) return invalid_argument(where + ": expected an object, got " + j.dump());
  return json_string(j, "type", where);
}

Result<std::string> json_string(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return invalid_argument(where + ": '" + key + "' must be a string");
  return it->get<std::string>();
}

Result<std::optional<std::string>> json_optional_string(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return invalid_argument(where + ": '" + key + "' must be a string or null");
  return std::optional<std::string>(it->get<std::string>());
}

Result<bool> json_bool(const json& j, const char* key, bool fallback, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_boolean()) return invalid_argument(where + ": '" + key + "' must be true or false");
  return it->get<bool>();
}

Result<const json*> json_array(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return invalid_argument(where + ": '" + key + "' must be an array");
  return &*it;
}

}  // namespace mixserve
