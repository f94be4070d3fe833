#include "coordinator/chat/jinja_lexer.h"

#include <cstdlib>

#include "coordinator/chat/jinja_text.h"

namespace mixserve::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// jinja2 decodes string literals with Python's "unicode-escape" codec.
Result<std::string> unescape_string(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    switch (c) {
      case '\n': break;  // an escaped newline continues the line
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        char32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) {
          const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0)
            return invalid_argument("chat template syntax error at line " + std::to_string(line) +
                                    ": truncated \\" + c + " escape in a string literal");
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        append_utf8(out, cp);
        i += n;
        break;
      }
      default:
        if (c >= '0' && c <= '7') {  // up to three octal digits
          char32_t cp = 0;
          size_t k = 0;
          for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k)
            cp = cp * 8 + static_cast<char32_t>(body[i + k] - '0');
          append_utf8(out, cp);
          i += k - 1;
        } else {  // Python keeps unknown escapes as written
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  Result<std::vector<Token>> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag == std::string::npos ? std::string::npos : tag - pos_);
      if (tag == std::string::npos) {
        emit_text(text, line_);
        break;
      }
      const int text_line = line_;
      advance(tag - pos_);
      const char type = src_[tag + 1];
      const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      emit_text(strip_before_tag(std::move(text), type, sign), text_line);
      advance(2 + (sign ? 1 : 0));
      Status status = type == '#' ? lex_comment() : lex_tag(type);
      if (!status.ok()) return status;
    }
    out_.push_back(Token{TokenKind::end, "", 0, 0.0, line_});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1))
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  std::string strip_before_tag(std::string text, char type, char sign) const {
    if (sign == '-') return python_strip(text, StripSide::right);
    if (sign == '+' || type == '{') return text;
    // lstrip_blocks: drop spaces and tabs between the start of the line and a block or comment tag.
    const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (line_start == 0 && !line_starting_) return text;
    if (text.find_first_not_of(" \t", line_start) != std::string::npos) return text;
    return text.substr(0, line_start);
  }

  void emit_text(const std::string& text, int line) {
    if (!text.empty()) out_.push_back(Token{TokenKind::text, text, 0, 0.0, line});
  }

  // Advances past `n` source bytes, counting newlines.
  void advance(size_t n) {
    for (size_t i = 0; i < n; ++i)
      if (src_[pos_ + i] == '\n') ++line_;
    pos_ += n;
  }
  void skip_python_space() {
    size_t w = 0;
    while (pos_ < src_.size() && is_python_space_at(src_, pos_, &w)) advance(w);
  }

  Status syntax_error(const std::string& what) const {
    return invalid_argument("chat template syntax error at line " + std::to_string(line_) + ": " + what);
  }

  Status lex_comment() {
    const size_t k = src_.find("#}", pos_);
    if (k == std::string::npos) return syntax_error("missing end of comment tag '#}'");
    const bool strip_after = k > pos_ && src_[k - 1] == '-';
    const bool keep_newline = k > pos_ && src_[k - 1] == '+';
    advance(k + 2 - pos_);
    finish_tag(strip_after, keep_newline);
    return Status();
  }

  // After a closing delimiter: `-` strips all following whitespace, otherwise trim_blocks eats one newline.
  void finish_tag(bool strip_after, bool keep_newline) {
    const size_t before = pos_;
    if (strip_after) skip_python_space();
    else if (!keep_newline && pos_ < src_.size() && src_[pos_] == '\n') advance(1);
    line_starting_ = pos_ > before && src_[pos_ - 1] == '\n';
  }

  Status lex_tag(char type) {
    const bool block = type == '%';
    const int begin_line = line_;
    out_.push_back(Token{block ? TokenKind::block_begin : TokenKind::print_begin, "", 0, 0.0, line_});
    if (block) {
      size_t p = pos_;
      while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t' || src_[p] == '\n')) ++p;
      if (src_.compare(p, 3, "raw") == 0 && (p + 3 >= src_.size() || !is_name_char(src_[p + 3])))
        return unsupported("unsupported Jinja construct '{% raw %}' at line " + std::to_string(line_));
    }
    std::string brackets;  // jinja2 does not end a tag while a (, [ or { is open
    const std::string close = block ? "%}" : "}}";
    while (true) {
      skip_python_space();
      if (pos_ >= src_.size())
        return syntax_error("tag opened at line " + std::to_string(begin_line) + " is missing '" + close + "'");
      if (brackets.empty()) {
        if (src_.compare(pos_, 3, "-" + close) == 0) {
          advance(3);
          out_.push_back(Token{block ? TokenKind::block_end : TokenKind::print_end, "", 0, 0.0, line_});
          finish_tag(true, false);
          return Status();
        }
        const bool keep_newline = block && src_.compare(pos_, 3, "+%}") == 0;
        if (keep_newline || src_.compare(pos_, 2, close) == 0) {
          advance(keep_newline ? 3 : 2);
          out_.push_back(Token{block ? TokenKind::block_end : TokenKind::print_end, "", 0, 0.0, line_});
          if (block) finish_tag(false, keep_newline);
          else line_starting_ = false;
          return Status();
        }
      }
      Status status = lex_expression_token(brackets);
      if (!status.ok()) return status;
    }
  }

  Status lex_expression_token(std::string& brackets) {
    const char c = src_[pos_];
    Token token{TokenKind::op, "", 0, 0.0, line_};
    if (is_name_start(c)) {
      size_t end = pos_;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      token.kind = TokenKind::name;
      token.value = src_.substr(pos_, end - pos_);
      advance(end - pos_);
    } else if (is_digit(c)) {
      return lex_number();
    } else if (c == '\'' || c == '"') {
      size_t end = pos_ + 1;
      while (end < src_.size() && src_[end] != c) end += src_[end] == '\\' ? 2 : 1;
      if (end >= src_.size()) return syntax_error("unterminated string literal");
      auto value = unescape_string(std::string_view(src_).substr(pos_ + 1, end - pos_ - 1), line_);
      if (!value.ok()) return value.status();
      token.kind = TokenKind::string;
      token.value = std::move(*value);
      advance(end + 1 - pos_);
    } else {
      static const char* const kOperators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~",
                                               "[",  "]",  "(",  ")",  "{",  "}",  "<", ">", "=", ".", ":", "|",
                                               ",",  ";"};
      for (const char* op : kOperators) {
        if (src_.compare(pos_, std::char_traits<char>::length(op), op) == 0) {
          token.value = op;
          break;
        }
      }
      if (token.value.empty()) return syntax_error(std::string("unexpected character '") + c + "'");
      if (token.value == "(" || token.value == "[" || token.value == "{") brackets += token.value;
      if (token.value == ")" || token.value == "]" || token.value == "}") {
        const char open = token.value == ")" ? '(' : token.value == "]" ? '[' : '{';
        if (brackets.empty() || brackets.back() != open) return syntax_error("unbalanced '" + token.value + "'");
        brackets.pop_back();
      }
      advance(token.value.size());
    }
    out_.push_back(std::move(token));
    return Status();
  }

  // Integers and floats with jinja2's grammar: digits with single underscores, a fraction only when a digit
  // follows the dot, an exponent; a number right after a '.' (as in `x.0.1`) is never a float.
  Status lex_number() {
    auto digits_end = [&](size_t p) {
      while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1]))))
        ++p;
      return p;
    };
    size_t end = digits_end(pos_);
    bool is_float = false;
    const bool after_dot = pos_ > 0 && src_[pos_ - 1] == '.';
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
      end = digits_end(end + 1);
      is_float = true;
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t p = end + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        end = digits_end(p);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = pos_; i < end; ++i)
      if (src_[i] != '_') text += src_[i];
    Token token{is_float ? TokenKind::floating : TokenKind::integer, text, 0, 0.0, line_};
    if (is_float) token.floating = std::strtod(text.c_str(), nullptr);
    else token.integer = std::strtoll(text.c_str(), nullptr, 10);
    advance(end - pos_);
    out_.push_back(std::move(token));
    return Status();
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;  // the next text starts at the beginning of a line
  std::vector<Token> out_;
};

}  // namespace

Result<std::vector<Token>> tokenize(const std::string& source) {
  // jinja2 normalizes newlines to "\n" and, with keep_trailing_newline=False, drops one trailing newline.
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized += source[i];
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  return Lexer(std::move(normalized)).run();
}

}  // namespace mixserve::jinja
