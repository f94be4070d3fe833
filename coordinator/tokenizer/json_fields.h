#pragma once
// Typed reads of tokenizer.json / tokenizer_config.json fields that fail with a Status naming the component
// and the field, instead of nlohmann's exceptions; and reading a JSON file with errors naming the file.
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "core/status.h"

namespace mixserve {

// not_found for a missing file, io_error for an unreadable one, invalid_argument naming the file and the
// parser's message for malformed JSON.
Result<nlohmann::json> read_json_file(const std::string& path);

// The "type" field of a component object.
Result<std::string> json_type_of(const nlohmann::json& j, const std::string& where);
Result<std::string> json_string(const nlohmann::json& j, const char* key, const std::string& where);
// nullopt when the key is absent or null.
Result<std::optional<std::string>> json_optional_string(const nlohmann::json& j, const char* key,
                                                        const std::string& where);
// `fallback` when the key is absent.
Result<bool> json_bool(const nlohmann::json& j, const char* key, bool fallback, const std::string& where);
Result<const nlohmann::json*> json_array(const nlohmann::json& j, const char* key, const std::string& where);

}  // namespace mixserve
