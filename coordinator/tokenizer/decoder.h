#pragma once
// tokenizer.json decoders, each a step of HF's decode_chain over the token strings: ByteLevel, Replace,
// ByteFallback, Fuse, Strip, Metaspace and Sequence. BPE (suffix), WordPiece and CTC decoders are refused at
// load as unsupported, naming the type.
// Thread-safety: immutable after construction.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace mixserve {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual Result<std::vector<std::string>> decode_chain(std::vector<std::string> tokens) const = 0;
};

// nullptr for a JSON null (HF then joins the tokens with spaces).
Result<std::unique_ptr<Decoder>> decoder_from_json(const nlohmann::json& j);

}  // namespace mixserve
