#pragma once
// The `pattern` of Split pre-tokenizers and Replace normalizers/decoders: {"String": s} (a literal) or
// {"Regex": r}. find_spans cuts a string into alternating matched and unmatched spans as HF's
// Pattern::find_matches does; replace_all rewrites every match.
// Thread-safety: immutable after construction.
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "coordinator/tokenizer/regex.h"
#include "core/status.h"

namespace mixserve {

struct TextSpan {
  size_t start, end;  // byte offsets, end exclusive
  bool is_match;
};

class Pattern {
 public:
  // From {"String": ...} or {"Regex": ...}; `where` names the owner in messages.
  static Result<Pattern> from_json(const nlohmann::json& j, const std::string& where);
  static Pattern literal(std::string text) { return Pattern(std::move(text), std::nullopt); }
  static Result<Pattern> regex(std::string_view r);

  // Every byte of `s` in order, as spans; an empty `s` gives one empty unmatched span (as HF does).
  Status find_spans(std::string_view s, const std::function<void(TextSpan)>& on_span) const;
  Result<std::string> replace_all(std::string_view s, std::string_view content) const;

 private:
  Pattern(std::string literal, std::optional<Regex> regex) : literal_(std::move(literal)), regex_(std::move(regex)) {}
  std::string literal_;  // used when regex_ is empty
  std::optional<Regex> regex_;
};

}  // namespace mixserve
