#pragma once
// The BPE model of tokenizer.json, as HF tokenizers' models/bpe: a word's characters (unknown ones as
// byte-fallback tokens <0xXX> or the unk token, fused when fuse_unk) are merged pair by pair, the pair of
// lowest merge rank first and the leftmost among equals. ignore_merges (Llama 3) takes a word that is itself in
// the vocabulary as one token. continuing_subword_prefix and end_of_word_suffix are honoured; dropout is not
// (it makes encoding random) and is refused unless null or 0.
// Thread-safety: immutable after construction.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/tokenizer/flat_table.h"
#include "core/status.h"

namespace mixserve {

class BpeModel {
 public:
  // From tokenizer.json's "model" object. invalid_argument naming the token for a merge whose parts or
  // result are not in the vocabulary; unsupported for dropout.
  static Result<BpeModel> from_json(const nlohmann::json& model);

  // Token ids of one pre-tokenized word (HF BPE::tokenize); empty for an empty word.
  std::vector<int32_t> tokenize(std::string_view word) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // nullptr for an id the vocabulary does not hold.
  const std::string* id_to_token(int32_t id) const;
  // Number of entries of the vocabulary (HF Model::get_vocab_size).
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  // One past the largest id.
  int64_t id_limit() const { return static_cast<int64_t>(id_to_token_.size()); }

  // True when a word may be cut before every "▁" that follows another character without changing its tokens:
  // no merge result holds such a boundary, and the model is position independent (no prefix/suffix, no
  // ignore_merges). SentencePiece vocabularies (Llama 2) qualify, which keeps normalizer-only tokenizers,
  // whose whole input is one word, from running BPE on megabytes at once.
  bool splits_before_metaspace() const { return splits_before_metaspace_; }

 private:
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the merged word, -1 at the ends
    uint32_t length;     // bytes of the word it covers, 0 once merged into its left neighbour
  };
  std::vector<Symbol> initial_symbols(std::string_view word) const;
  void merge_all(std::vector<Symbol>& symbols) const;
  Status add_merge(std::string_view a, std::string_view b, uint32_t rank, std::vector<char>& scratch);
  void compute_metaspace_splitting();

  StringTable<int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  U64Table<Merge> merges_;
  std::optional<int32_t> unk_id_;
  std::optional<std::string> continuing_subword_prefix_;
  std::optional<std::string> end_of_word_suffix_;
  std::vector<int32_t> byte_ids_;  // <0xXX> ids for byte_fallback, -1 when absent; empty when off
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  bool splits_before_metaspace_ = false;
};

}  // namespace mixserve
