#include "coordinator/chat/jinja_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mixserve::jinja {
namespace {

// Decodes the code point at s[pos]. An invalid or truncated sequence decodes as its first byte alone
// (value 0xDC00 + byte, like Python's surrogateescape) so callers never lose or reorder bytes.
char32_t decode_at(std::string_view s, size_t pos, size_t* width) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (n == 1) {
    *width = 1;
    return b0;
  }
  if (n == 0 || pos + n > s.size()) {
    *width = 1;
    return 0xDC00 + b0;
  }
  char32_t cp = b0 & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      *width = 1;
      return 0xDC00 + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *width = n;
  return cp;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Python's str.isprintable() is false for categories Cc, Cf, Co, Zl, Zp and Zs (except ' '); this covers the
// assigned code points of those categories that chat text plausibly contains.
bool is_python_printable(char32_t c) {
  if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0xA0) || c == 0xAD) return false;
  if (c >= 0xDC80 && c <= 0xDCFF) return false;  // an undecodable byte
  if (c != ' ' && is_python_space(c)) return false;
  if ((c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E) return false;
  if ((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F)) return false;
  if (c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000) return false;
  return true;
}

bool in_chars(std::string_view s, size_t pos, size_t width, std::string_view chars) {
  for (size_t i = 0; i < chars.size();) {
    size_t w = 0;
    decode_at(chars, i, &w);
    if (w == width && chars.compare(i, w, s.substr(pos, width)) == 0) return true;
    i += w;
  }
  return false;
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

}  // namespace

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size();) {
    offsets.push_back(pos);
    size_t w = 0;
    decode_at(s, pos, &w);
    pos += w;
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) { return code_point_offsets(s).size() - 1; }

bool is_python_space_at(std::string_view s, size_t pos, size_t* width) {
  return is_python_space(decode_at(s, pos, width));
}

std::string python_strip(std::string_view s, StripSide side, std::optional<std::string_view> chars) {
  const std::vector<size_t> off = code_point_offsets(s);
  const size_t n = off.size() - 1;
  auto strippable = [&](size_t i) {
    const size_t w = off[i + 1] - off[i];
    if (chars) return in_chars(s, off[i], w, *chars);
    size_t unused = 0;
    return is_python_space_at(s, off[i], &unused);
  };
  size_t begin = 0, end = n;
  if (side != StripSide::right)
    while (begin < end && strippable(begin)) ++begin;
  if (side != StripSide::left)
    while (end > begin && strippable(end - 1)) --end;
  return std::string(s.substr(off[begin], off[end] - off[begin]));
}

std::vector<std::string> python_split(std::string_view s, std::optional<std::string_view> sep, long maxsplit) {
  std::vector<std::string> parts;
  if (sep) {  // precondition: non-empty (Python raises "empty separator")
    size_t start = 0;
    for (size_t hit; (maxsplit < 0 || static_cast<long>(parts.size()) < maxsplit) &&
                     (hit = s.find(*sep, start)) != std::string_view::npos;) {
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t pos = 0, w = 0;
  auto skip_space = [&] {
    while (pos < s.size() && is_python_space_at(s, pos, &w)) pos += w;
  };
  skip_space();
  while (pos < s.size()) {
    if (maxsplit >= 0 && static_cast<long>(parts.size()) == maxsplit) {
      parts.emplace_back(s.substr(pos));  // the remainder keeps its trailing whitespace, as in Python
      return parts;
    }
    const size_t start = pos;
    while (pos < s.size() && !is_python_space_at(s, pos, &w)) {
      decode_at(s, pos, &w);
      pos += w;
    }
    parts.emplace_back(s.substr(start, pos - start));
    skip_space();
  }
  return parts;
}

std::string python_replace(std::string_view s, std::string_view old_sub, std::string_view new_sub, long count) {
  std::string out;
  if (old_sub.empty()) {  // Python inserts `new` before every code point and at the end
    const std::vector<size_t> off = code_point_offsets(s);
    long done = 0;
    for (size_t i = 0; i + 1 < off.size(); ++i) {
      if (count < 0 || done < count) out += new_sub, ++done;
      out += s.substr(off[i], off[i + 1] - off[i]);
    }
    if (count < 0 || done < count) out += new_sub;
    return out;
  }
  size_t start = 0;
  long done = 0;
  for (size_t hit; (count < 0 || done < count) && (hit = s.find(old_sub, start)) != std::string_view::npos; ++done) {
    out += s.substr(start, hit - start);
    out += new_sub;
    start = hit + old_sub.size();
  }
  out += s.substr(start);
  return out;
}

namespace {
bool has_non_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
}  // namespace

std::optional<std::string> ascii_upper(std::string_view s) {
  if (has_non_ascii(s)) return std::nullopt;
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

std::optional<std::string> ascii_lower(std::string_view s) {
  if (has_non_ascii(s)) return std::nullopt;
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::optional<std::string> ascii_title(std::string_view s) {
  if (has_non_ascii(s)) return std::nullopt;
  std::string out(s);
  bool previous_cased = false;  // Python: a letter after a cased letter is lowered, else uppered
  for (char& c : out) {
    c = previous_cased ? lower(c) : upper(c);
    previous_cased = is_alpha(c);
  }
  return out;
}

std::optional<std::string> ascii_capitalize(std::string_view s) {
  if (has_non_ascii(s)) return std::nullopt;
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) out[i] = i == 0 ? upper(out[i]) : lower(out[i]);
  return out;
}

std::string python_repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const char quote = has_single && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, quote);
  for (size_t pos = 0; pos < s.size();) {
    size_t w = 0;
    const char32_t c = decode_at(s, pos, &w);
    if (c == '\\' || c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!is_python_printable(c)) {
      const unsigned v = c >= 0xDC80 && c <= 0xDCFF ? c - 0xDC00 : c;
      append_escape(out, v < 0x100 ? "\\x%02x" : v < 0x10000 ? "\\u%04x" : "\\U%08x", v);
    } else {
      out += s.substr(pos, w);
    }
    pos += w;
  }
  out += quote;
  return out;
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits, as Python's repr uses; only the layout differs from C++.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, end);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  const bool negative = !mantissa.empty() && mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp_buf;
  }
  if (exponent < 0) return out + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  const size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) return out + digits + std::string(int_digits - digits.size(), '0') + ".0";
  return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) append_escape(out, "\\u%04x", c);
        else out += ch;
    }
  }
  return out + "\"";
}

}  // namespace mixserve::jinja
