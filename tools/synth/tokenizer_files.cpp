#include "tools/synth/tokenizer_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace mixserve::tools {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json"};

}  // namespace

Result<int64_t> tokenizer_id_limit(const std::string& tokenizer_dir) {
  const fs::path path = fs::path(tokenizer_dir) / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return not_found(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::exception& e) {
    return invalid_argument(path.string() + ": malformed JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("model") || !j["model"].contains("vocab") || !j["model"]["vocab"].is_object()) {
    return invalid_argument(path.string() + ": no model vocabulary (model.vocab)");
  }
  int64_t limit = 0;
  for (const auto& [token, id] : j["model"]["vocab"].items()) {
    if (id.is_number_integer()) limit = std::max(limit, id.get<int64_t>() + 1);
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const json& t : j["added_tokens"]) {
      if (t.contains("id") && t["id"].is_number_integer()) limit = std::max(limit, t["id"].get<int64_t>() + 1);
    }
  }
  return limit;
}

Status check_tokenizer_fits(const std::string& tokenizer_dir, int64_t vocab_size) {
  auto limit = tokenizer_id_limit(tokenizer_dir);
  if (!limit.ok()) return limit.status();
  if (*limit > vocab_size) {
    return invalid_argument(tokenizer_dir + ": the tokenizer has " + std::to_string(*limit) +
                            " token ids (with added tokens) but the preset's vocab_size is " +
                            std::to_string(vocab_size) + "; ids past it would have no embedding row");
  }
  return {};
}

Status copy_tokenizer_files(const std::string& tokenizer_dir, const std::string& out_dir) {
  for (const char* name : kTokenizerFiles) {
    const fs::path from = fs::path(tokenizer_dir) / name;
    std::error_code ec;
    if (!fs::exists(from, ec) && std::string(name) != "tokenizer.json") continue;
    fs::copy_file(from, fs::path(out_dir) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return io_error(from.string() + ": cannot copy into " + out_dir + ": " + ec.message());
  }
  return {};
}

}  // namespace mixserve::tools
