#include "coordinator/tokenizer/tokenizer_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coordinator/tokenizer/json_fields.h"

namespace mixserve {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A special token is written as a string, as {"content": ..., ...} (a serialized AddedToken), or null.
Result<std::string> token_field(const json& config, const char* key, const std::string& file) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return invalid_argument(file + ": '" + key + "' must be a string or {\"content\": ...}");
}

// A list of {"name", "template"} entries means several templates; the one named "default" is the chat one.
Result<std::string> chat_template_field(const json& config, const std::string& file) {
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const json& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        return entry["template"].get<std::string>();
      }
    }
    return std::string();
  }
  return invalid_argument(file + ": 'chat_template' must be a string or a list of named templates");
}

Result<std::vector<int64_t>> eos_ids_field(const json& generation, const std::string& file) {
  const auto it = generation.find("eos_token_id");
  if (it == generation.end() || it->is_null()) return std::vector<int64_t>();
  if (it->is_number_integer()) return std::vector<int64_t>{it->get<int64_t>()};
  std::vector<int64_t> ids;
  if (it->is_array()) {
    for (const json& id : *it) {
      if (!id.is_number_integer()) return invalid_argument(file + ": 'eos_token_id' must be an int or a list of ints");
      ids.push_back(id.get<int64_t>());
    }
    return ids;
  }
  return invalid_argument(file + ": 'eos_token_id' must be an int or a list of ints");
}

}  // namespace

Result<TokenizerConfig> load_tokenizer_config(const std::string& dir) {
  TokenizerConfig out;
  std::error_code ec;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(config_path, ec)) {
    MIXSERVE_ASSIGN_OR_RETURN(const json config, read_json_file(config_path));
    if (!config.is_object()) return invalid_argument(config_path + ": expected a JSON object");
    MIXSERVE_ASSIGN_OR_RETURN(out.bos_token, token_field(config, "bos_token", config_path));
    MIXSERVE_ASSIGN_OR_RETURN(out.eos_token, token_field(config, "eos_token", config_path));
    MIXSERVE_ASSIGN_OR_RETURN(out.chat_template, chat_template_field(config, config_path));
  }
  const fs::path jinja = fs::path(dir) / "chat_template.jinja";
  if (out.chat_template.empty() && fs::exists(jinja, ec)) {
    std::ifstream in(jinja, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return io_error(jinja.string() + ": cannot read");
    out.chat_template = text.str();
  }
  const std::string generation_path = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(generation_path, ec)) {
    MIXSERVE_ASSIGN_OR_RETURN(const json generation, read_json_file(generation_path));
    if (!generation.is_object()) return invalid_argument(generation_path + ": expected a JSON object");
    MIXSERVE_ASSIGN_OR_RETURN(out.generation_eos_ids, eos_ids_field(generation, generation_path));
  }
  return out;
}

}  // namespace mixserve
