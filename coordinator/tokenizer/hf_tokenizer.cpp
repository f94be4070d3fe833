#include "coordinator/tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "coordinator/tokenizer/flat_table.h"
#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

using nlohmann::json;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";
// Words up to this length are cached (HF's MAX_LENGTH); longer ones are rare and would only bloat the cache.
constexpr size_t kMaxCachedWordBytes = 256;

const json& field_or_null(const json& j, const char* key) {
  static const json null_json;
  const auto it = j.find(key);
  return it == j.end() ? null_json : *it;
}

}  // namespace

// The ids of one encode call and its word cache: natural text repeats words, so most words skip BPE.
class HfTokenizer::EncodeSession {
 public:
  explicit EncodeSession(const BpeModel& model) : model_(model) {}

  void add_word(std::string_view word) {
    if (!model_.splits_before_metaspace()) return add_part(word);
    // Cut before each metaspace that follows another character: a SentencePiece word boundary.
    size_t start = 0;
    for (size_t at = word.find(kMetaspace, 1); at != std::string_view::npos; at = word.find(kMetaspace, at + 1)) {
      const size_t previous = utf8::previous_char_start(word, at);
      if (word.substr(previous, at - previous) == kMetaspace) continue;
      add_part(word.substr(start, at - start));
      start = at;
    }
    add_part(word.substr(start));
  }
  void add_id(int32_t id) { ids_.push_back(id); }
  std::vector<int32_t> take_ids() { return std::move(ids_); }

 private:
  void add_part(std::string_view part) {
    if (part.size() > kMaxCachedWordBytes) {
      const std::vector<int32_t> ids = model_.tokenize(part);
      ids_.insert(ids_.end(), ids.begin(), ids.end());
      return;
    }
    const IdRange* range = cache_.find(part);
    if (range == nullptr) {
      const std::vector<int32_t> ids = model_.tokenize(part);
      range = &cache_.insert(part, {static_cast<uint32_t>(cached_ids_.size()), static_cast<uint32_t>(ids.size())});
      cached_ids_.insert(cached_ids_.end(), ids.begin(), ids.end());
    }
    const auto first = cached_ids_.begin() + range->offset;
    ids_.insert(ids_.end(), first, first + range->count);
  }

  struct IdRange {
    uint32_t offset, count;  // into cached_ids_
  };

  const BpeModel& model_;
  std::vector<int32_t> ids_;
  StringTable<IdRange> cache_;
  std::vector<int32_t> cached_ids_;
};

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& dir, const TokenizerOptions& options) {
  const std::string path = (std::filesystem::path(dir) / "tokenizer.json").string();
  MIXSERVE_ASSIGN_OR_RETURN(const json tokenizer_json, read_json_file(path));
  MIXSERVE_ASSIGN_OR_RETURN(TokenizerConfig config, load_tokenizer_config(dir));
  auto tokenizer = HfTokenizer::from_json(tokenizer_json, std::move(config), options);
  if (!tokenizer.ok()) return tokenizer.status().with_context(path);
  return std::unique_ptr<Tokenizer>(std::move(*tokenizer));
}

Result<std::unique_ptr<HfTokenizer>> HfTokenizer::from_json(const json& j, TokenizerConfig config,
                                                            const TokenizerOptions& options) {
  if (!j.is_object()) return invalid_argument("expected a JSON object");
  const json& model_json = field_or_null(j, "model");
  if (!model_json.is_object()) return invalid_argument("'model' must be an object");
  const std::string type = model_json.value("type", "BPE");  // HF accepts an untagged BPE model
  if (type != "BPE") return unsupported("model type '" + type + "' is not supported (only BPE)");
  MIXSERVE_ASSIGN_OR_RETURN(BpeModel model, BpeModel::from_json(model_json));

  std::unique_ptr<HfTokenizer> t(new HfTokenizer(std::move(model), std::move(config), options));
  MIXSERVE_ASSIGN_OR_RETURN(t->normalizer_, normalizer_from_json(field_or_null(j, "normalizer")));
  MIXSERVE_ASSIGN_OR_RETURN(t->pre_tokenizer_, pre_tokenizer_from_json(field_or_null(j, "pre_tokenizer")));
  MIXSERVE_ASSIGN_OR_RETURN(t->post_processor_, post_processor_from_json(field_or_null(j, "post_processor")));
  MIXSERVE_ASSIGN_OR_RETURN(t->decoder_, decoder_from_json(field_or_null(j, "decoder")));
  MIXSERVE_ASSIGN_OR_RETURN(
      t->added_, AddedVocabulary::from_json(field_or_null(j, "added_tokens"), t->model_, t->normalizer_.get()));
  t->build_id_tables();
  return t;
}

void HfTokenizer::build_id_tables() {
  const int64_t limit = std::max(model_.id_limit(), added_.id_limit());
  decode_text_.assign(limit, std::string());
  token_text_.assign(limit, std::string());
  has_token_.assign(limit, false);
  special_.assign(limit, false);
  for (int32_t id = 0; id < limit; ++id) {
    const std::string* added = added_.decoded_text(id);
    const std::string* entry = model_.id_to_token(id);
    if (added == nullptr && entry == nullptr) continue;
    has_token_[id] = true;
    decode_text_[id] = added != nullptr ? *added : *entry;
    const AddedToken* added_token = added_.find(id);
    token_text_[id] = added_token != nullptr ? added_token->content : *entry;
    // HF decides by the token's string, so a vocabulary entry spelled like a special token is special too.
    special_[id] = added_.is_special_content(decode_text_[id]);
  }
  if (const auto bos = token_to_id(config_.bos_token); bos && !config_.bos_token.empty()) bos_id_ = *bos;
  if (const auto eos = token_to_id(config_.eos_token); eos && !config_.eos_token.empty()) eos_ids_.push_back(*eos);
  for (const int64_t id : config_.generation_eos_ids) {
    if (id < 0 || id >= limit) continue;
    if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(static_cast<int32_t>(id));
  }
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (const auto id = added_.id_of(token)) return id;
  return model_.token_to_id(token);
}

Result<std::vector<int32_t>> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (const size_t bad = utf8::first_invalid(text); bad != text.size()) {
    if (options_.reject_invalid_utf8) {
      return invalid_argument("text is not valid UTF-8 (first bad byte at offset " + std::to_string(bad) + ")");
    }
    repaired = utf8::repair(text);
    text = repaired;
  }
  EncodeSession session(model_);
  MIXSERVE_ASSIGN_OR_RETURN(const auto segments, added_.split(text, /*normalized_tokens=*/false));
  for (const auto& s : segments) {
    if (s.id >= 0) {
      session.add_id(s.id);
    } else {
      MIXSERVE_RETURN_IF_ERROR(encode_plain(text.substr(s.start, s.end - s.start), s.start == 0, session));
    }
  }
  std::vector<int32_t> ids = session.take_ids();
  if (post_processor_) ids = post_processor_->process(std::move(ids), add_special_tokens);
  return ids;
}

Status HfTokenizer::encode_plain(std::string_view piece, bool at_origin, EncodeSession& session) const {
  std::string normalized_storage;
  std::string_view normalized = piece;
  if (normalizer_) {
    MIXSERVE_ASSIGN_OR_RETURN(normalized_storage, normalizer_->normalize(std::string(piece)));
    normalized = normalized_storage;
  }
  MIXSERVE_ASSIGN_OR_RETURN(const auto segments, added_.split(normalized, /*normalized_tokens=*/true));
  const WordSink to_model = [&](std::string_view word, bool) {
    session.add_word(word);
    return Status();
  };
  for (const auto& s : segments) {
    if (s.id >= 0) {
      session.add_id(s.id);
      continue;
    }
    const std::string_view sub = normalized.substr(s.start, s.end - s.start);
    if (sub.empty()) continue;
    if (pre_tokenizer_) {
      MIXSERVE_RETURN_IF_ERROR(pre_tokenizer_->pre_tokenize(sub, at_origin && s.start == 0, to_model));
    } else {
      session.add_word(sub);
    }
  }
  return {};
}

Result<std::string> HfTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || !has_token_[id]) {
      return out_of_range("token id " + std::to_string(id) + " is outside the vocabulary (ids 0.." +
                          std::to_string(vocab_size() - 1) + ")");
    }
    if (skip_special_tokens && special_[id]) continue;
    tokens.push_back(decode_text_[id]);
  }
  std::string text;
  if (!decoder_) {
    // HF joins the tokens with spaces when there is no decoder.
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    return text;
  }
  MIXSERVE_ASSIGN_OR_RETURN(const auto pieces, decoder_->decode_chain(std::move(tokens)));
  for (const std::string& p : pieces) text += p;
  return text;
}

bool HfTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

std::string HfTokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return token_text_[id];
}

}  // namespace mixserve
