#pragma once
// tokenizer.json pre-tokenizers: Split (String or Regex pattern, every delimiter behavior, invert), ByteLevel
// (with or without its GPT-2 regex, add_prefix_space), Metaspace, Digits and Sequence. Each cuts a piece of
// normalized text into the words the model sees, streaming them to a sink so a 10 MB text never exists as
// millions of separate strings. Empty pieces are dropped, as HF's PreTokenizedString::split does.
// Thread-safety: immutable after construction.
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "core/status.h"

namespace mixserve {

// Receives each word; `at_origin` says the word starts where the whole input starts (Metaspace's
// prepend_scheme "first" depends on it). The view is valid only during the call.
using WordSink = std::function<Status(std::string_view word, bool at_origin)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual Status pre_tokenize(std::string_view piece, bool at_origin, const WordSink& sink) const = 0;
};

// nullptr for a JSON null (the whole piece is one word).
Result<std::unique_ptr<PreTokenizer>> pre_tokenizer_from_json(const nlohmann::json& j);

}  // namespace mixserve
