#pragma once
// A HF `tokenizer.json` tokenizer, identical in its ids to HF `tokenizers`: BPE with byte-level
// pre-tokenization (Llama 3, Qwen2, GPT-2 style; split patterns run through PCRE2 with Unicode properties) and
// SentencePiece-style BPE with byte fallback and the metaspace (Llama 2, Mistral), with added and special
// tokens, the normalizers and decoders those families use, and BOS/EOS from tokenizer_config.json and
// generation_config.json.
// Thread-safety: a loaded Tokenizer is immutable; encode/decode may run on many threads at once.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mixserve {

struct TokenizerOptions {
  // What to do with invalid UTF-8 in text to encode: replace each bad sequence with U+FFFD (the default, as
  // Python's errors="replace") or reject with invalid_argument naming the byte offset.
  bool reject_invalid_utf8 = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads DIR/tokenizer.json, DIR/tokenizer_config.json (optional) and DIR/generation_config.json (optional).
  // unsupported (naming the model type / pre-tokenizer / normalizer / decoder) for anything not implemented.
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& dir, const TokenizerOptions& options = {});

  // Ids of `text` as HF tokenizers' encode(text, add_special_tokens=add_special_tokens) gives them (the
  // post-processor's BOS when add_special_tokens). Special/added tokens written in the text are recognised.
  virtual Result<std::vector<int32_t>> encode(std::string_view text, bool add_special_tokens) const = 0;
  // HF decode(ids, skip_special_tokens=...). out_of_range naming the id for ids outside the vocabulary.
  virtual Result<std::string> decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const = 0;

  virtual int64_t vocab_size() const = 0;  // including added tokens
  virtual int32_t bos_id() const = 0;      // -1 when none
  virtual std::vector<int32_t> eos_ids() const = 0;
  virtual bool is_special(int32_t id) const = 0;
  virtual std::string token_text(int32_t id) const = 0;  // the vocabulary entry as written in tokenizer.json
  // The chat template string from tokenizer_config.json, empty when absent.
  virtual const std::string& chat_template() const = 0;
  virtual const std::string& bos_token() const = 0;
  virtual const std::string& eos_token() const = 0;
};

}  // namespace mixserve
