#include "coordinator/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

using nlohmann::json;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Whether `token` holds a metaspace right after some other character.
bool has_inner_metaspace(std::string_view token) {
  for (size_t at = token.find(kMetaspace, 1); at != std::string_view::npos; at = token.find(kMetaspace, at + 1)) {
    if (token.substr(utf8::previous_char_start(token, at)).substr(0, 3) != kMetaspace) return true;
  }
  return false;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      continue;
    }
    // The older "a b" form; HF skips a "#version" header line and requires exactly one space.
    if (!m.is_string()) return invalid_argument("model: merges must be \"a b\" strings or [a, b] pairs");
    const std::string& line = m.get_ref<const std::string&>();
    if (line.starts_with("#version")) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      return invalid_argument("model: merge " + std::to_string(out.size() + 1) + " '" + line +
                              "' is not two tokens separated by one space");
    }
    out.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return out;
}

}  // namespace

Result<BpeModel> BpeModel::from_json(const json& model) {
  const std::string where = "model BPE";
  if (!model.contains("vocab") || !model["vocab"].is_object())
    return invalid_argument(where + ": 'vocab' must be an object");
  if (!model.contains("merges") || !model["merges"].is_array())
    return invalid_argument(where + ": 'merges' must be an array");
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    return unsupported(where + ": dropout " + model["dropout"].dump() + " is not supported (it makes encoding random)");
  }
  BpeModel m;
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return invalid_argument(where + ": vocab entry '" + token + "' has an invalid id " + id.dump());
    }
    const auto i = static_cast<int32_t>(id.get<int64_t>());
    m.vocab_.insert(token, i);
    if (static_cast<size_t>(i) >= m.id_to_token_.size()) {
      m.id_to_token_.resize(i + 1);
      m.has_id_.resize(i + 1, false);
    }
    m.id_to_token_[i] = token;
    m.has_id_[i] = true;
  }
  MIXSERVE_ASSIGN_OR_RETURN(const auto unk, json_optional_string(model, "unk_token", where));
  if (unk) {
    const auto id = m.token_to_id(*unk);
    if (!id) return invalid_argument(where + ": unk_token '" + *unk + "' is not in the vocabulary");
    m.unk_id_ = *id;
  }
  MIXSERVE_ASSIGN_OR_RETURN(m.continuing_subword_prefix_,
                            json_optional_string(model, "continuing_subword_prefix", where));
  MIXSERVE_ASSIGN_OR_RETURN(m.end_of_word_suffix_, json_optional_string(model, "end_of_word_suffix", where));
  MIXSERVE_ASSIGN_OR_RETURN(m.byte_fallback_, json_bool(model, "byte_fallback", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(m.fuse_unk_, json_bool(model, "fuse_unk", false, where));
  MIXSERVE_ASSIGN_OR_RETURN(m.ignore_merges_, json_bool(model, "ignore_merges", false, where));
  if (m.byte_fallback_) {
    m.byte_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (const auto id = m.token_to_id(name)) m.byte_ids_[b] = *id;
    }
  }
  MIXSERVE_ASSIGN_OR_RETURN(const auto merges, parse_merges(model["merges"]));
  std::vector<char> scratch;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    MIXSERVE_RETURN_IF_ERROR(
        m.add_merge(merges[rank].first, merges[rank].second, static_cast<uint32_t>(rank), scratch));
  }
  m.compute_metaspace_splitting();
  return m;
}

Status BpeModel::add_merge(std::string_view a, std::string_view b, uint32_t rank, std::vector<char>& scratch) {
  const auto a_id = token_to_id(a);
  const auto b_id = token_to_id(b);
  if (!a_id || !b_id) {
    return invalid_argument("model BPE: merge '" + std::string(a) + " " + std::string(b) + "' uses '" +
                            std::string(a_id ? b : a) + "', which is not in the vocabulary");
  }
  // The right part loses the continuing-subword prefix when it joins its left neighbour.
  const size_t prefix = continuing_subword_prefix_ ? continuing_subword_prefix_->size() : 0;
  if (b.size() < prefix)
    return invalid_argument("model BPE: merge part '" + std::string(b) + "' is shorter than the prefix");
  scratch.assign(a.begin(), a.end());
  scratch.insert(scratch.end(), b.begin() + static_cast<ptrdiff_t>(prefix), b.end());
  const std::string_view merged(scratch.data(), scratch.size());
  const auto new_id = token_to_id(merged);
  if (!new_id) {
    return invalid_argument("model BPE: the result '" + std::string(merged) + "' of merge '" + std::string(a) + " " +
                            std::string(b) + "' is not in the vocabulary");
  }
  merges_.insert(pair_key(*a_id, *b_id), {rank, *new_id});  // a repeated pair keeps its last rank, as in HF
  return {};
}

void BpeModel::compute_metaspace_splitting() {
  splits_before_metaspace_ = false;
  if (ignore_merges_ || continuing_subword_prefix_ || end_of_word_suffix_ || !token_to_id(kMetaspace)) return;
  bool inner = false;
  merges_.for_each(
      [&](uint64_t, const Merge& merge) { inner = inner || has_inner_metaspace(id_to_token_[merge.new_id]); });
  splits_before_metaspace_ = !inner;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const int32_t* id = vocab_.find(token);
  if (id == nullptr) return std::nullopt;
  return *id;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

std::vector<BpeModel::Symbol> BpeModel::initial_symbols(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&](int32_t id, uint32_t length) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, length});
  };
  // An unknown character waiting to be added, so that runs of them can fuse when fuse_unk.
  int32_t pending_unk = -1;
  uint32_t pending_unk_length = 0;
  const auto add_pending_unk = [&] {
    if (pending_unk >= 0) add(pending_unk, pending_unk_length);
    pending_unk = -1;
  };
  std::string decorated;
  for (size_t pos = 0; pos < word.size();) {
    const auto length = static_cast<uint32_t>(utf8::scan(word, pos).length);
    const bool first = pos == 0;
    const bool last = pos + length == word.size();
    std::string_view symbol = word.substr(pos, length);
    if ((!first && continuing_subword_prefix_) || (last && end_of_word_suffix_)) {
      decorated.assign(!first && continuing_subword_prefix_ ? *continuing_subword_prefix_ : "");
      decorated.append(symbol);
      if (last && end_of_word_suffix_) decorated.append(*end_of_word_suffix_);
      symbol = decorated;
    }
    pos += length;
    if (const auto id = token_to_id(symbol)) {
      add_pending_unk();
      add(*id, length);
      continue;
    }
    if (byte_fallback_ &&
        std::all_of(symbol.begin(), symbol.end(), [&](char b) { return byte_ids_[static_cast<uint8_t>(b)] >= 0; })) {
      // HF leaves a pending unk pending here: it lands after these bytes.
      for (char b : symbol) add(byte_ids_[static_cast<uint8_t>(b)], 1);
      continue;
    }
    if (!unk_id_) continue;  // no unk token: the character is dropped, as HF does
    if (pending_unk >= 0 && fuse_unk_) {
      pending_unk_length += length;
    } else {
      add_pending_unk();
      pending_unk = *unk_id_;
      pending_unk_length = length;
    }
  }
  add_pending_unk();
  return symbols;
}

void BpeModel::merge_all(std::vector<Symbol>& symbols) const {
  struct Candidate {
    uint32_t rank;
    int32_t pos;  // left symbol of the pair
    int32_t new_id;
  };
  // Lowest rank first, then leftmost: the order HF's merge queue pops in.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::vector<Candidate> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    const Merge* merge = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    if (merge == nullptr) return false;
    queue.push_back({merge->rank, left, merge->new_id});
    return true;
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i, i + 1);
  std::make_heap(queue.begin(), queue.end(), later);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), later);
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    // Stale entries (a neighbour changed since it was queued) no longer name this pair's merge.
    const Merge* merge = merges_.find(pair_key(left.id, right.id));
    if (merge == nullptr || merge->new_id != top.new_id) continue;
    symbols[left.next].length = 0;
    left.id = top.new_id;
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0 && consider(left.prev, top.pos)) std::push_heap(queue.begin(), queue.end(), later);
    if (left.next >= 0 && consider(top.pos, left.next)) std::push_heap(queue.begin(), queue.end(), later);
  }
}

std::vector<int32_t> BpeModel::tokenize(std::string_view word) const {
  if (word.empty()) return {};
  if (ignore_merges_) {
    if (const auto id = token_to_id(word)) return {*id};
  }
  std::vector<Symbol> symbols = initial_symbols(word);
  if (symbols.size() > 1) merge_all(symbols);
  std::vector<int32_t> ids;
  for (const Symbol& s : symbols) {
    if (s.length != 0) ids.push_back(s.id);
  }
  return ids;
}

}  // namespace mixserve
