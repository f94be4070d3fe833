#pragma once
// UTF-8 as the tokenizer needs it. Text to encode is made valid (or rejected) before any other step, and bytes
// that decoding produces are repaired the way Rust's String::from_utf8_lossy and Python's errors="replace" do:
// one U+FFFD per maximal invalid subpart (Unicode's recommended practice), so our decode matches HF's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mixserve::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The sequence starting at s[pos]: its length and whether it is a valid character. When invalid, `length` is
// the maximal subpart (at least 1 byte), the unit that one U+FFFD replaces.
struct Sequence {
  size_t length;
  bool valid;
};
Sequence scan(std::string_view s, size_t pos) noexcept;

// Offset of the first byte that does not start a valid sequence; s.size() when s is valid UTF-8.
size_t first_invalid(std::string_view s) noexcept;
inline bool is_valid(std::string_view s) noexcept {
  return first_invalid(s) == s.size();
}

// s with every maximal invalid subpart replaced by U+FFFD.
std::string repair(std::string_view s);

// The code point of the valid sequence at s[pos] (precondition: scan(s, pos).valid).
char32_t decode_at(std::string_view s, size_t pos) noexcept;
// Offset of the character that ends just before `end` in valid UTF-8 (end > 0).
size_t previous_char_start(std::string_view s, size_t end) noexcept;
void append(std::string& out, char32_t code_point);

// Unicode White_Space (what Rust's char::is_whitespace and regex `\s` accept).
bool is_white_space(char32_t c) noexcept;

}  // namespace mixserve::utf8
