#include "coordinator/tokenizer/added_vocabulary.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

using nlohmann::json;

// Rust regex's Unicode \w, which HF's single_word check uses.
constexpr std::string_view kWordCharPattern = R"(^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]$)";

Result<AddedToken> parse_token(const json& j, size_t index) {
  const std::string where = "added_tokens[" + std::to_string(index) + "]";
  if (!j.is_object()) return invalid_argument(where + ": expected an object");
  AddedToken t;
  MIXSERVE_ASSIGN_OR_RETURN(t.content, json_string(j, "content", where));
  MIXSERVE_ASSIGN_OR_RETURN(t.single_word, json_bool(j, "single_word", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(t.lstrip, json_bool(j, "lstrip", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(t.rstrip, json_bool(j, "rstrip", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(t.special, json_bool(j, "special", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(t.normalized, json_bool(j, "normalized", !t.special, where));
  return t;
}

bool same_token(const AddedToken& a, const AddedToken& b) {
  return a.content == b.content && a.single_word == b.single_word && a.lstrip == b.lstrip && a.rstrip == b.rstrip &&
         a.normalized == b.normalized && a.special == b.special;
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view s, int32_t id) {
  int32_t node = 0;
  for (char ch : s) {
    const auto b = static_cast<uint8_t>(ch);
    auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(b, INT32_MIN));
    if (it == children.end() || it->first != b) {
      const auto child = static_cast<int32_t>(nodes.size());
      children.insert(it, {b, child});
      nodes.emplace_back();  // may reallocate: `children` is not used after this
      node = child;
    } else {
      node = it->second;
    }
  }
  nodes[node].token_id = id;
  first_byte[static_cast<uint8_t>(s[0])] = true;
}

std::optional<std::pair<size_t, int32_t>> AddedVocabulary::Trie::longest_at(std::string_view text, size_t pos) const {
  std::optional<std::pair<size_t, int32_t>> best;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[i]);
    const auto& children = nodes[node].children;
    const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(b, INT32_MIN));
    if (it == children.end() || it->first != b) break;
    node = it->second;
    if (nodes[node].token_id >= 0) best = {i + 1, nodes[node].token_id};
  }
  return best;
}

Result<AddedVocabulary> AddedVocabulary::from_json(const json& added_tokens, const BpeModel& model,
                                                   const Normalizer* normalizer) {
  AddedVocabulary v;
  MIXSERVE_ASSIGN_OR_RETURN(Regex word_char, Regex::compile(kWordCharPattern));
  v.word_char_ = std::move(word_char);
  if (added_tokens.is_null()) return v;
  if (!added_tokens.is_array()) return invalid_argument("added_tokens must be an array");
  // HF numbers tokens new to the model from the model's vocabulary size on (the "id" field only warns).
  int64_t next_id = model.vocab_size();
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    MIXSERVE_ASSIGN_OR_RETURN(AddedToken token, parse_token(added_tokens[i], i));
    MIXSERVE_RETURN_IF_ERROR(v.add(std::move(token), model, normalizer, next_id));
  }
  for (const auto& [id, token] : v.tokens_) {
    if (token.normalized) {
      v.normalized_trie_.insert(*v.decoded_[id], id);
    } else {
      v.raw_trie_.insert(token.content, id);
    }
  }
  return v;
}

Status AddedVocabulary::add(AddedToken token, const BpeModel& model, const Normalizer* normalizer, int64_t& next_id) {
  if (token.content.empty()) return {};
  const auto known = id_of(token.content);
  if (known) {
    const auto same = tokens_.find(*known);
    if (same != tokens_.end() && same_token(same->second, token)) return {};
  }
  int32_t id = 0;
  if (known) {
    id = *known;
  } else if (const auto model_id = model.token_to_id(token.content)) {
    id = *model_id;
  } else {
    if (next_id > INT32_MAX) return invalid_argument("added_tokens: too many tokens");
    id = static_cast<int32_t>(next_id++);
  }
  std::string spelled = token.content;
  if (token.normalized && normalizer != nullptr) {
    MIXSERVE_ASSIGN_OR_RETURN(spelled, normalizer->normalize(token.content));
    if (spelled.empty()) return invalid_argument("added token '" + token.content + "' normalizes to nothing");
  }
  ids_by_content_.insert(token.content, id);
  if (token.special) special_.insert(token.content);
  if (static_cast<size_t>(id) >= decoded_.size()) decoded_.resize(id + 1);
  decoded_[id] = std::move(spelled);
  tokens_[id] = std::move(token);
  return {};
}

std::optional<int32_t> AddedVocabulary::id_of(std::string_view content) const {
  const int32_t* id = ids_by_content_.find(content);
  if (id == nullptr) return std::nullopt;
  return *id;
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  const auto it = tokens_.find(id);
  return it == tokens_.end() ? nullptr : &it->second;
}

const std::string* AddedVocabulary::decoded_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= decoded_.size() || !decoded_[id]) return nullptr;
  return &*decoded_[id];
}

int64_t AddedVocabulary::id_limit() const {
  return static_cast<int64_t>(decoded_.size());
}

Result<bool> AddedVocabulary::is_word_char(std::string_view text, size_t char_start) const {
  const size_t length = utf8::scan(text, char_start).length;
  MIXSERVE_ASSIGN_OR_RETURN(const auto match, word_char_->find(text.substr(char_start, length), 0));
  return match.has_value();
}

Result<std::vector<AddedVocabulary::Segment>> AddedVocabulary::split(std::string_view text,
                                                                     bool normalized_tokens) const {
  const Trie& trie = normalized_tokens ? normalized_trie_ : raw_trie_;
  std::vector<Segment> segments;
  size_t start_offset = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!trie.first_byte[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto match = trie.longest_at(text, pos);
    if (!match) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = match->first;
    pos = stop;  // the search resumes after the match even when the token is not taken (HF's iterator)
    const AddedToken& token = tokens_.at(match->second);
    if (token.single_word) {
      bool word_before = false, word_after = false;
      if (start > 0) {
        MIXSERVE_ASSIGN_OR_RETURN(word_before, is_word_char(text, utf8::previous_char_start(text, start)));
      }
      if (stop < text.size()) {
        MIXSERVE_ASSIGN_OR_RETURN(word_after, is_word_char(text, stop));
      }
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {
        const size_t prev = utf8::previous_char_start(text, s);
        if (!utf8::is_white_space(utf8::decode_at(text, prev))) break;
        s = prev;
      }
      start = std::max(s, start_offset);
    }
    if (token.rstrip) {
      while (stop < text.size() && utf8::is_white_space(utf8::decode_at(text, stop)))
        stop += utf8::scan(text, stop).length;
    }
    if (start_offset < start) segments.push_back({start_offset, start, -1});
    segments.push_back({start, stop, match->second});
    start_offset = stop;
  }
  if (start_offset != text.size() || text.empty()) segments.push_back({start_offset, text.size(), -1});
  return segments;
}

}  // namespace mixserve
