#include "coordinator/tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "coordinator/tokenizer/byte_level.h"
#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

using nlohmann::json;

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Result<Behavior> parse_behavior(const std::string& name) {
  if (name == "Removed") return Behavior::removed;
  if (name == "Isolated") return Behavior::isolated;
  if (name == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (name == "MergedWithNext") return Behavior::merged_with_next;
  if (name == "Contiguous") return Behavior::contiguous;
  return invalid_argument("pre_tokenizer Split: unknown behavior '" + name + "'");
}

// Turns the stream of matched/unmatched spans into pieces the way HF's NormalizedString::split folds them,
// holding back at most one piece to see whether the next span joins it.
class SpanFolder {
 public:
  SpanFolder(Behavior behavior, std::string_view text, bool at_origin, const WordSink& sink)
      : behavior_(behavior), text_(text), at_origin_(at_origin), sink_(sink) {}

  void push(TextSpan span) {
    switch (behavior_) {
      case Behavior::isolated:
        emit(span.start, span.end);
        break;
      case Behavior::removed:
        if (!span.is_match) emit(span.start, span.end);
        break;
      case Behavior::contiguous:  // runs of spans with the same flag become one piece
        hold_or_extend(span, held_ && span.is_match == previous_match_);
        break;
      case Behavior::merged_with_previous:  // a delimiter joins the piece before it
        hold_or_extend(span, held_ && span.is_match && !previous_match_);
        break;
      case Behavior::merged_with_next:  // a delimiter joins the unmatched piece after it
        if (held_ && previous_match_ && !span.is_match) {
          emit(held_->start, span.end);
          held_.reset();
        } else {
          flush();
          if (span.is_match) {
            held_ = span;
          } else {
            emit(span.start, span.end);
          }
        }
        break;
    }
    previous_match_ = span.is_match;
  }

  Status finish() {
    flush();
    return status_;
  }

 private:
  void hold_or_extend(TextSpan span, bool extend) {
    if (extend) {
      held_->end = span.end;
      return;
    }
    flush();
    held_ = span;
  }
  void flush() {
    if (held_) emit(held_->start, held_->end);
    held_.reset();
  }
  void emit(size_t start, size_t end) {
    if (end == start || !status_.ok()) return;
    status_ = sink_(text_.substr(start, end - start), at_origin_ && start == 0);
  }

  Behavior behavior_;
  std::string_view text_;
  bool at_origin_;
  const WordSink& sink_;
  std::optional<TextSpan> held_;
  bool previous_match_ = false;
  Status status_;
};

class Split final : public PreTokenizer {
 public:
  Split(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  Status pre_tokenize(std::string_view piece, bool at_origin, const WordSink& sink) const override {
    SpanFolder folder(behavior_, piece, at_origin, sink);
    MIXSERVE_RETURN_IF_ERROR(pattern_.find_spans(piece, [&](TextSpan span) {
      if (invert_) span.is_match = !span.is_match;
      folder.push(span);
    }));
    return folder.finish();
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

// GPT-2's split pattern, which ByteLevel applies itself when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, std::optional<Split> split)
      : add_prefix_space_(add_prefix_space), split_(std::move(split)) {}
  Status pre_tokenize(std::string_view piece, bool at_origin, const WordSink& sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && (piece.empty() || piece[0] != ' ')) {
      prefixed.reserve(piece.size() + 1);
      prefixed.append(" ").append(piece);
      piece = prefixed;
    }
    std::string chars;
    const WordSink to_chars = [&](std::string_view word, bool origin) {
      chars.clear();
      byte_level::append_chars(chars, word);
      return sink(chars, origin);
    };
    if (split_) return split_->pre_tokenize(piece, at_origin, to_chars);
    return piece.empty() ? Status() : to_chars(piece, at_origin);
  }

 private:
  bool add_prefix_space_;
  std::optional<Split> split_;
};

enum class PrependScheme { always, first, never };

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)),
        scheme_(scheme),
        split_(Pattern::literal(replacement_), Behavior::merged_with_next, false),
        split_words_(split) {}
  Status pre_tokenize(std::string_view piece, bool at_origin, const WordSink& sink) const override {
    std::string text;
    text.reserve(piece.size() + replacement_.size());
    const bool starts_with_replacement = piece.starts_with(replacement_) || piece.starts_with(' ');
    if (!starts_with_replacement &&
        (scheme_ == PrependScheme::always || (scheme_ == PrependScheme::first && at_origin))) {
      text.append(replacement_);
    }
    for (char c : piece) {
      if (c == ' ') {
        text.append(replacement_);
      } else {
        text.push_back(c);
      }
    }
    if (split_words_) return split_.pre_tokenize(text, at_origin, sink);
    return text.empty() ? Status() : sink(text, at_origin);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  Split split_;
  bool split_words_;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  Status pre_tokenize(std::string_view piece, bool at_origin, const WordSink& sink) const override {
    return run(0, piece, at_origin, sink);
  }

 private:
  // Depth first: the words of step i go through step i + 1 one by one, which yields HF's breadth-first order.
  Status run(size_t step, std::string_view piece, bool at_origin, const WordSink& sink) const {
    if (step == steps_.size()) return sink(piece, at_origin);
    return steps_[step]->pre_tokenize(
        piece, at_origin, [&](std::string_view word, bool origin) { return run(step + 1, word, origin, sink); });
  }
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

Result<std::unique_ptr<PreTokenizer>> split_from_json(const json& j) {
  const std::string where = "pre_tokenizer Split";
  if (!j.contains("pattern")) return invalid_argument(where + ": missing 'pattern'");
  MIXSERVE_ASSIGN_OR_RETURN(Pattern pattern, Pattern::from_json(j["pattern"], where));
  MIXSERVE_ASSIGN_OR_RETURN(const std::string behavior_name, json_string(j, "behavior", where));
  MIXSERVE_ASSIGN_OR_RETURN(const Behavior behavior, parse_behavior(behavior_name));
  MIXSERVE_ASSIGN_OR_RETURN(const bool invert, json_bool(j, "invert", false, where));
  return std::unique_ptr<PreTokenizer>(std::make_unique<Split>(std::move(pattern), behavior, invert));
}

Result<std::unique_ptr<PreTokenizer>> byte_level_from_json(const json& j) {
  const std::string where = "pre_tokenizer ByteLevel";
  MIXSERVE_ASSIGN_OR_RETURN(const bool add_prefix_space, json_bool(j, "add_prefix_space", true, where));
  MIXSERVE_ASSIGN_OR_RETURN(const bool use_regex, json_bool(j, "use_regex", true, where));
  std::optional<Split> split;
  if (use_regex) {
    MIXSERVE_ASSIGN_OR_RETURN(Pattern gpt2, Pattern::regex(kGpt2Pattern));
    split.emplace(std::move(gpt2), Behavior::isolated, false);
  }
  return std::unique_ptr<PreTokenizer>(std::make_unique<ByteLevel>(add_prefix_space, std::move(split)));
}

Result<std::unique_ptr<PreTokenizer>> metaspace_from_json(const json& j) {
  const std::string where = "pre_tokenizer Metaspace";
  MIXSERVE_ASSIGN_OR_RETURN(std::string replacement, json_string(j, "replacement", where));
  if (replacement.empty() || utf8::scan(replacement, 0).length != replacement.size()) {
    return invalid_argument(where + ": 'replacement' must be one character");
  }
  MIXSERVE_ASSIGN_OR_RETURN(const std::optional<std::string> scheme_name,
                            json_optional_string(j, "prepend_scheme", where));
  PrependScheme scheme = PrependScheme::always;
  if (scheme_name == "first") {
    scheme = PrependScheme::first;
  } else if (scheme_name == "never") {
    scheme = PrependScheme::never;
  } else if (scheme_name && *scheme_name != "always") {
    return invalid_argument(where + ": unknown prepend_scheme '" + *scheme_name + "'");
  }
  // Files written before prepend_scheme existed say add_prefix_space instead.
  MIXSERVE_ASSIGN_OR_RETURN(const bool add_prefix_space, json_bool(j, "add_prefix_space", true, where));
  if (!add_prefix_space) scheme = PrependScheme::never;
  MIXSERVE_ASSIGN_OR_RETURN(const bool split, json_bool(j, "split", true, where));
  return std::unique_ptr<PreTokenizer>(std::make_unique<Metaspace>(std::move(replacement), scheme, split));
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> pre_tokenizer_from_json(const json& j) {
  if (j.is_null()) return std::unique_ptr<PreTokenizer>();
  MIXSERVE_ASSIGN_OR_RETURN(const std::string type, json_type_of(j, "pre_tokenizer"));
  if (type == "Split") return split_from_json(j);
  if (type == "ByteLevel") return byte_level_from_json(j);
  if (type == "Metaspace") return metaspace_from_json(j);
  if (type == "Digits") {
    MIXSERVE_ASSIGN_OR_RETURN(const bool individual, json_bool(j, "individual_digits", false, "pre_tokenizer Digits"));
    MIXSERVE_ASSIGN_OR_RETURN(Pattern digit, Pattern::regex(R"(\p{N})"));
    const Behavior behavior = individual ? Behavior::isolated : Behavior::contiguous;
    return std::unique_ptr<PreTokenizer>(std::make_unique<Split>(std::move(digit), behavior, false));
  }
  if (type == "Sequence") {
    MIXSERVE_ASSIGN_OR_RETURN(const json* items, json_array(j, "pretokenizers", "pre_tokenizer Sequence"));
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const json& item : *items) {
      MIXSERVE_ASSIGN_OR_RETURN(auto step, pre_tokenizer_from_json(item));
      if (step) steps.push_back(std::move(step));
    }
    return std::unique_ptr<PreTokenizer>(std::make_unique<Sequence>(std::move(steps)));
  }
  return unsupported("pre_tokenizer type '" + type +
                     "' is not supported (supported: Split, ByteLevel, Metaspace, Digits, Sequence)");
}

}  // namespace mixserve
