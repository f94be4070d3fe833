#define PCRE2_CODE_UNIT_WIDTH 8
#include "coordinator/tokenizer/regex.h"

#include <pcre2.h>

#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

// Oniguruma's Unicode \s is White_Space: TAB..CR, NEL and the Z categories. PCRE2's UCP \s adds U+180E.
constexpr std::string_view kSpaceItems = R"(\t-\r\x{85}\p{Z})";
// Oniguruma's Unicode \w is Letter | Mark | Decimal_Number | Connector_Punctuation; PCRE2's UCP \w is L | N | _.
constexpr std::string_view kWordItems = R"(\p{L}\p{M}\p{Nd}\p{Pc})";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buffer), n);
}

// Match data, a match context and a JIT stack per thread, so a shared Regex needs no lock. The JIT stack may
// grow to 16 MiB: long whitespace runs against `\s+(?!\S)` backtrack deeply.
struct Scratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  Scratch() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~Scratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

std::string oniguruma_compatible_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[++i];
      const bool space = d == 's' || d == 'S';
      const bool word = d == 'w' || d == 'W';
      const bool negated = d == 'S' || d == 'W';
      // A negated class cannot be spelled inside another class; PCRE2's own \S and \W stay there.
      if ((space || word) && !(in_class && negated)) {
        const std::string_view items = space ? kSpaceItems : kWordItems;
        if (in_class) {
          out.append(items);
        } else {
          out.append(negated ? "[^" : "[").append(items).append("]");
        }
      } else {
        out.push_back(c);
        out.push_back(d);
      }
      continue;
    }
    out.push_back(c);
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
    } else if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      const size_t close = p.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (close != std::string_view::npos) {
        out.append(p.substr(i + 1, close + 1 - i));
        i = close + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

Result<Regex> Regex::compile(std::string_view pattern) {
  const std::string translated = oniguruma_compatible_pattern(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    return invalid_argument("regex '" + std::string(pattern) + "' does not compile: " + pcre2_message(error) +
                            " (at offset " + std::to_string(offset) + " of '" + translated + "')");
  }
  // Without JIT (an unsupported CPU) PCRE2 interprets the pattern: slower, same matches.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return Regex(std::string(pattern), std::shared_ptr<pcre2_code>(code, pcre2_code_free));
}

Result<std::optional<Regex::Span>> Regex::find(std::string_view subject, size_t from) const {
  Scratch& s = scratch();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  // The subject was validated once on the way in; checking it again per call would make iteration quadratic.
  int rc = pcre2_match(code_.get(), text, subject.size(), from, PCRE2_NO_UTF_CHECK, s.data, s.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    // The interpreter keeps its backtracking state on the heap instead of the JIT stack.
    rc = pcre2_match(code_.get(), text, subject.size(), from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, s.data, nullptr);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return std::optional<Span>();
  if (rc < 0) return invalid_argument("regex '" + pattern_ + "': matching failed: " + pcre2_message(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
  return std::optional<Span>(Span{ovector[0], ovector[1]});
}

Status Regex::for_each_match(std::string_view subject, const std::function<void(Span)>& on_match) const {
  size_t search_from = 0;
  size_t last_match_end = std::string_view::npos;
  while (search_from <= subject.size()) {
    MIXSERVE_ASSIGN_OR_RETURN(const std::optional<Span> match, find(subject, search_from));
    if (!match) break;
    if (match->start == match->end && match->end == last_match_end) {
      // Oniguruma's find_iter skips an empty match where the previous match ended and moves on one character.
      if (search_from >= subject.size()) break;
      search_from += utf8::scan(subject, search_from).length;
      continue;
    }
    search_from = match->end;
    last_match_end = match->end;
    on_match(*match);
  }
  return {};
}

}  // namespace mixserve
