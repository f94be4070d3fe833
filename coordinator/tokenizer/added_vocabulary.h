#pragma once
// Added tokens of tokenizer.json ("added_tokens"): recognised in the text before the model sees it, as HF's
// AddedVocabulary does. Tokens with normalized=false are found in the raw text; the others in the normalized
// text, spelled as the normalizer writes them. Among tokens starting at the same place the longest wins
// (leftmost-longest); single_word requires no word character on either side; lstrip/rstrip swallow the
// whitespace before/after the token. Ids are assigned as HF's add_tokens does: the model's id when the
// content is in its vocabulary, else the next id after the model's vocabulary.
// Thread-safety: immutable after construction.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coordinator/tokenizer/bpe_model.h"
#include "coordinator/tokenizer/flat_table.h"
#include "coordinator/tokenizer/normalizer.h"
#include "coordinator/tokenizer/regex.h"
#include "core/status.h"

namespace mixserve {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // From tokenizer.json's "added_tokens" array (null or absent: none).
  static Result<AddedVocabulary> from_json(const nlohmann::json& added_tokens, const BpeModel& model,
                                           const Normalizer* normalizer);

  // A stretch of text: an added token (id >= 0) or plain text (id == -1), byte offsets into the input.
  struct Segment {
    size_t start, end;
    int32_t id;
  };
  // Cuts `text` at the added tokens of one kind: normalized=false ones for raw text, normalized=true ones for
  // normalized text. Returns one plain segment covering the text when there is nothing to cut.
  Result<std::vector<Segment>> split(std::string_view text, bool normalized_tokens) const;

  std::optional<int32_t> id_of(std::string_view content) const;
  // The added token with this id; nullptr if none.
  const AddedToken* find(int32_t id) const;
  // The token's text for decoding (its normalized spelling for normalized tokens); nullptr if not added.
  const std::string* decoded_text(int32_t id) const;
  bool is_special_content(std::string_view content) const { return special_.contains(std::string(content)); }
  // One past the largest added id, 0 when none.
  int64_t id_limit() const;

 private:
  // A byte trie over one set of token spellings, for leftmost-longest search.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;  // byte -> node, sorted
      int32_t token_id = -1;
    };
    std::vector<Node> nodes{Node{}};
    bool first_byte[256] = {};
    void insert(std::string_view s, int32_t id);
    // The longest token starting at `pos`: (end, id), or nullopt.
    std::optional<std::pair<size_t, int32_t>> longest_at(std::string_view text, size_t pos) const;
  };
  Status add(AddedToken token, const BpeModel& model, const Normalizer* normalizer, int64_t& next_id);
  Result<bool> is_word_char(std::string_view text, size_t char_start) const;

  std::unordered_map<int32_t, AddedToken> tokens_;  // by id
  StringTable<int32_t> ids_by_content_;
  std::vector<std::optional<std::string>> decoded_;  // indexed by id
  std::unordered_set<std::string> special_;
  Trie raw_trie_, normalized_trie_;
  std::optional<Regex> word_char_;  // Rust regex \w, for single_word
};

}  // namespace mixserve
