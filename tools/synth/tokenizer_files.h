#pragma once
// A real tokenizer beside a synthetic checkpoint (`mixserve synth --tokenizer DIR`): DIR's tokenizer.json (and
// tokenizer_config.json when present) are copied into the checkpoint, after checking that every token id the
// tokenizer can produce has a row in the preset's embedding.
#include <cstdint>
#include <string>

#include "core/status.h"

namespace mixserve::tools {

// One past the largest id of DIR/tokenizer.json: the model vocabulary and the added tokens. not_found without
// the file, invalid_argument naming it when it is not a tokenizer.json.
Result<int64_t> tokenizer_id_limit(const std::string& tokenizer_dir);

// invalid_argument naming both sizes when the tokenizer needs more rows than vocab_size; ok otherwise.
Status check_tokenizer_fits(const std::string& tokenizer_dir, int64_t vocab_size);

// Copies tokenizer.json and, when present, tokenizer_config.json from tokenizer_dir into out_dir.
Status copy_tokenizer_files(const std::string& tokenizer_dir, const std::string& out_dir);

}  // namespace mixserve::tools
