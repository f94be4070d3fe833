#pragma once
// What a model directory says about special tokens and chat formatting beside tokenizer.json:
// tokenizer_config.json (bos_token, eos_token as a string or {"content": ...}; chat_template as a string or
// a list of named templates, or chat_template.jinja beside it) and generation_config.json (eos_token_id, an
// int or a list). Both files are optional.
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve {

struct TokenizerConfig {
  std::string bos_token;  // empty when not set
  std::string eos_token;
  std::string chat_template;
  std::vector<int64_t> generation_eos_ids;  // from generation_config.json
};

// invalid_argument naming the file for malformed JSON or fields of the wrong type.
Result<TokenizerConfig> load_tokenizer_config(const std::string& dir);

}  // namespace mixserve
