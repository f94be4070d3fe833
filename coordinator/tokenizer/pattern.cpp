#include "coordinator/tokenizer/pattern.h"

#include <nlohmann/json.hpp>

namespace mixserve {

Result<Pattern> Pattern::from_json(const nlohmann::json& j, const std::string& where) {
  if (j.is_object() && j.size() == 1) {
    if (j.contains("String") && j["String"].is_string()) return literal(j["String"].get<std::string>());
    if (j.contains("Regex") && j["Regex"].is_string()) {
      auto r = regex(j["Regex"].get<std::string>());
      if (!r.ok()) return r.status().with_context(where);
      return r;
    }
  }
  return invalid_argument(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}, got " + j.dump());
}

Result<Pattern> Pattern::regex(std::string_view r) {
  MIXSERVE_ASSIGN_OR_RETURN(Regex compiled, Regex::compile(r));
  return Pattern(std::string(), std::move(compiled));
}

Status Pattern::find_spans(std::string_view s, const std::function<void(TextSpan)>& on_span) const {
  // HF: an empty input is one unmatched span; an empty literal matches nothing.
  if (s.empty() || (!regex_ && literal_.empty())) {
    on_span({0, s.size(), false});
    return {};
  }
  size_t previous_end = 0;
  const auto on_match = [&](Regex::Span m) {
    if (m.start != previous_end) on_span({previous_end, m.start, false});
    on_span({m.start, m.end, true});
    previous_end = m.end;
  };
  if (regex_) {
    MIXSERVE_RETURN_IF_ERROR(regex_->for_each_match(s, on_match));
  } else {
    // A literal is matched left to right without overlaps, like the escaped regex HF builds from it.
    for (size_t at = s.find(literal_); at != std::string_view::npos; at = s.find(literal_, at + literal_.size())) {
      on_match({at, at + literal_.size()});
    }
  }
  if (previous_end != s.size()) on_span({previous_end, s.size(), false});
  return {};
}

Result<std::string> Pattern::replace_all(std::string_view s, std::string_view content) const {
  std::string out;
  out.reserve(s.size());
  MIXSERVE_RETURN_IF_ERROR(find_spans(s, [&](TextSpan span) {
    if (span.is_match) {
      out.append(content);
    } else {
      out.append(s.substr(span.start, span.end - span.start));
    }
  }));
  return out;
}

}  // namespace mixserve
