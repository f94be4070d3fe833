#pragma once
// tokenizer.json normalizers: Prepend, Replace and Sequence (what Llama 2 / Mistral use). The Unicode
// normal forms (NFC, NFKC, ...), Lowercase, Strip, BertNormalizer and Precompiled are not implemented and are
// refused at load as unsupported, naming the type.
// Thread-safety: immutable after construction.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/status.h"

namespace mixserve {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // The normalized text (HF NormalizedString::get() after normalize), valid UTF-8 in and out.
  virtual Result<std::string> normalize(std::string text) const = 0;
};

// nullptr for a JSON null (no normalizer).
Result<std::unique_ptr<Normalizer>> normalizer_from_json(const nlohmann::json& j);

}  // namespace mixserve
