#pragma once
// The Tokenizer of a HF tokenizer.json with a BPE model: HF's pipeline step by step (added tokens in the raw
// text, normalizer, added tokens in the normalized text, pre-tokenizer, BPE, post-processor), and decode as
// HF's Tokenizer::decode (ids to token strings, special ones dropped on request, then the decoder chain).
// Thread-safety: immutable after load; encode/decode keep their scratch state (the word cache) per call.
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "coordinator/tokenizer/added_vocabulary.h"
#include "coordinator/tokenizer/bpe_model.h"
#include "coordinator/tokenizer/decoder.h"
#include "coordinator/tokenizer/normalizer.h"
#include "coordinator/tokenizer/post_processor.h"
#include "coordinator/tokenizer/pre_tokenizer.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "coordinator/tokenizer/tokenizer_config.h"

namespace mixserve {

class HfTokenizer final : public Tokenizer {
 public:
  // From parsed tokenizer.json; errors name the component (the caller adds the file name).
  static Result<std::unique_ptr<HfTokenizer>> from_json(const nlohmann::json& tokenizer_json, TokenizerConfig config,
                                                        const TokenizerOptions& options);

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special_tokens) const override;
  Result<std::string> decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override;

  int64_t vocab_size() const override { return static_cast<int64_t>(token_text_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  std::vector<int32_t> eos_ids() const override { return eos_ids_; }
  bool is_special(int32_t id) const override;
  std::string token_text(int32_t id) const override;
  const std::string& chat_template() const override { return config_.chat_template; }
  const std::string& bos_token() const override { return config_.bos_token; }
  const std::string& eos_token() const override { return config_.eos_token; }

 private:
  class EncodeSession;
  HfTokenizer(BpeModel model, TokenizerConfig config, TokenizerOptions options)
      : model_(std::move(model)), config_(std::move(config)), options_(options) {}
  Status encode_plain(std::string_view piece, bool at_origin, EncodeSession& session) const;
  void build_id_tables();
  std::optional<int32_t> token_to_id(std::string_view token) const;

  BpeModel model_;
  AddedVocabulary added_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  TokenizerConfig config_;
  TokenizerOptions options_;

  // Per id (0 .. vocab_size - 1): what decode feeds the decoder, the vocabulary entry, the flags.
  std::vector<std::string> decode_text_;
  std::vector<std::string> token_text_;
  std::vector<bool> has_token_;
  std::vector<bool> special_;
  int32_t bos_id_ = -1;
  std::vector<int32_t> eos_ids_;
};

}  // namespace mixserve
