#include "coordinator/tokenizer/unicode.h"

namespace mixserve::utf8 {

namespace {

bool in(uint8_t b, uint8_t lo, uint8_t hi) noexcept {
  return b >= lo && b <= hi;
}

}  // namespace

Sequence scan(std::string_view s, size_t pos) noexcept {
  const auto at = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = at(pos);
  if (b0 < 0x80) return {1, true};
  // The allowed range of the second byte depends on the lead byte (no overlongs, no surrogates, <= U+10FFFF);
  // later bytes are plain continuations. Table 3-7 of the Unicode standard.
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (in(b0, 0xC2, 0xDF)) {
    need = 1;
  } else if (b0 == 0xE0) {
    need = 2, lo = 0xA0;
  } else if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) {
    need = 2;
  } else if (b0 == 0xED) {
    need = 2, hi = 0x9F;
  } else if (b0 == 0xF0) {
    need = 3, lo = 0x90;
  } else if (in(b0, 0xF1, 0xF3)) {
    need = 3;
  } else if (b0 == 0xF4) {
    need = 3, hi = 0x8F;
  } else {
    return {1, false};
  }
  for (size_t k = 1; k <= need; ++k) {
    if (pos + k >= s.size()) return {k, false};
    const uint8_t b = at(pos + k);
    const bool ok = k == 1 ? in(b, lo, hi) : in(b, 0x80, 0xBF);
    if (!ok) return {k, false};
  }
  return {need + 1, true};
}

size_t first_invalid(std::string_view s) noexcept {
  size_t pos = 0;
  while (pos < s.size()) {
    // ASCII runs are the common case: skip them without the full scan.
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Sequence seq = scan(s, pos);
    if (!seq.valid) return pos;
    pos += seq.length;
  }
  return s.size();
}

std::string repair(std::string_view s) {
  size_t pos = first_invalid(s);
  if (pos == s.size()) return std::string(s);
  std::string out(s.substr(0, pos));
  while (pos < s.size()) {
    const Sequence seq = scan(s, pos);
    if (seq.valid) {
      out.append(s.substr(pos, seq.length));
    } else {
      out.append(kReplacement);
    }
    pos += seq.length;
  }
  return out;
}

char32_t decode_at(std::string_view s, size_t pos) noexcept {
  const auto at = [&](size_t i) { return static_cast<char32_t>(static_cast<uint8_t>(s[pos + i])); };
  const char32_t b0 = at(0);
  if (b0 < 0x80) return b0;
  if (b0 < 0xE0) return ((b0 & 0x1F) << 6) | (at(1) & 0x3F);
  if (b0 < 0xF0) return ((b0 & 0x0F) << 12) | ((at(1) & 0x3F) << 6) | (at(2) & 0x3F);
  return ((b0 & 0x07) << 18) | ((at(1) & 0x3F) << 12) | ((at(2) & 0x3F) << 6) | (at(3) & 0x3F);
}

size_t previous_char_start(std::string_view s, size_t end) noexcept {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<uint8_t>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

void append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

bool is_white_space(char32_t c) noexcept {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

}  // namespace mixserve::utf8
