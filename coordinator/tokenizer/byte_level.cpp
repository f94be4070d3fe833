#include "coordinator/tokenizer/byte_level.h"

#include <array>

#include "coordinator/tokenizer/unicode.h"

namespace mixserve::byte_level {

namespace {

// Printable bytes keep their own code point; the others (controls, space, 0x7F-0xA0, 0xAD) are numbered
// from U+0100 upwards in byte order, so every mapped code point is below U+0144.
constexpr char32_t kMaxCodePoint = 0x144;

bool keeps_own_code_point(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

struct Tables {
  std::array<std::string, 256> chars;          // byte -> UTF-8 of its character
  std::array<int16_t, kMaxCodePoint> bytes{};  // code point -> byte, -1 when unmapped
  Tables() {
    bytes.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = keeps_own_code_point(b) ? static_cast<char32_t>(b) : next++;
      utf8::append(chars[b], c);
      bytes[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string_view char_of_byte(uint8_t byte) noexcept {
  return tables().chars[byte];
}

void append_chars(std::string& out, std::string_view bytes) {
  const auto& chars = tables().chars;
  for (char b : bytes) out.append(chars[static_cast<uint8_t>(b)]);
}

std::optional<std::string> to_bytes(std::string_view s) {
  const auto& bytes = tables().bytes;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const utf8::Sequence seq = utf8::scan(s, pos);
    if (!seq.valid) return std::nullopt;
    const char32_t c = utf8::decode_at(s, pos);
    if (c >= kMaxCodePoint || bytes[c] < 0) return std::nullopt;
    out.push_back(static_cast<char>(bytes[c]));
    pos += seq.length;
  }
  return out;
}

}  // namespace mixserve::byte_level
