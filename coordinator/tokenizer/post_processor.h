#pragma once
// tokenizer.json post-processors for single sequences: TemplateProcessing (Llama 2's "<s> $A"), ByteLevel
// (offsets only: adds no token), RobertaProcessing and BertProcessing (cls $A sep) and Sequence. With
// add_special_tokens false they add nothing, as in HF.
// Thread-safety: immutable after construction.
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "core/status.h"

namespace mixserve {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> process(std::vector<int32_t> ids, bool add_special_tokens) const = 0;
};

// nullptr for a JSON null (nothing is added).
Result<std::unique_ptr<PostProcessor>> post_processor_from_json(const nlohmann::json& j);

}  // namespace mixserve
