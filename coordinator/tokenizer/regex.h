#pragma once
// Regexes of tokenizer.json (split patterns, Replace patterns) run through PCRE2 with UTF and Unicode
// properties, JIT-compiled, and read the way HF tokenizers' Oniguruma reads them: `\s` is Unicode White_Space
// and `\w` is Unicode word characters (PCRE2's own classes differ slightly), and matches are iterated as
// Oniguruma's find_iter does (an empty match right after the previous match is skipped).
// Thread-safety: a compiled Regex is immutable and shared; matching uses per-thread scratch space.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

struct pcre2_real_code_8;

namespace mixserve {

class Regex {
 public:
  // invalid_argument naming the pattern and PCRE2's message for a pattern that does not compile.
  static Result<Regex> compile(std::string_view pattern);

  struct Span {
    size_t start, end;  // byte offsets, end exclusive
  };
  // Calls on_match for every match in `subject` (valid UTF-8) from left to right.
  Status for_each_match(std::string_view subject, const std::function<void(Span)>& on_match) const;
  // The leftmost match starting at or after byte `from` (a character boundary); nullopt when none.
  Result<std::optional<Span>> find(std::string_view subject, size_t from) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::string pattern, std::shared_ptr<pcre2_real_code_8> code)
      : pattern_(std::move(pattern)), code_(std::move(code)) {}
  std::string pattern_;  // as written in tokenizer.json, for messages
  std::shared_ptr<pcre2_real_code_8> code_;
};

// The pattern with Oniguruma's meaning of \s, \S, \w and \W spelled out for PCRE2 (exposed for tests).
std::string oniguruma_compatible_pattern(std::string_view pattern);

}  // namespace mixserve
