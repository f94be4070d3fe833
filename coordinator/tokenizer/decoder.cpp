#include "coordinator/tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "coordinator/tokenizer/byte_level.h"
#include "coordinator/tokenizer/json_fields.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

namespace {

using nlohmann::json;
using Tokens = std::vector<std::string>;

// Byte-level spellings back to bytes; a token with a character outside the map keeps its own UTF-8. The bytes
// of all tokens are repaired together, so a character split across tokens survives.
class ByteLevel final : public Decoder {
 public:
  Result<Tokens> decode_chain(Tokens tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      if (auto b = byte_level::to_bytes(t)) {
        bytes += *b;
      } else {
        bytes += t;
      }
    }
    return Tokens{utf8::repair(bytes)};
  }
};

class Replace final : public Decoder {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  Result<Tokens> decode_chain(Tokens tokens) const override {
    for (std::string& t : tokens) {
      MIXSERVE_ASSIGN_OR_RETURN(t, pattern_.replace_all(t, content_));
    }
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Runs of <0xXX> tokens become their bytes when those are valid UTF-8, else one U+FFFD per byte (HF).
class ByteFallback final : public Decoder {
 public:
  Result<Tokens> decode_chain(Tokens tokens) const override {
    Tokens out;
    out.reserve(tokens.size());
    std::string run;
    const auto flush = [&] {
      if (run.empty()) return;
      if (utf8::is_valid(run)) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) out.emplace_back(utf8::kReplacement);
      }
      run.clear();
    };
    for (std::string& t : tokens) {
      if (const int byte = byte_token_value(t); byte >= 0) {
        run.push_back(static_cast<char>(byte));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    return out;
  }

 private:
  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int byte_token_value(const std::string& t) {
    if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
    const int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class Fuse final : public Decoder {
 public:
  Result<Tokens> decode_chain(Tokens tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    return Tokens{std::move(all)};
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class Strip final : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  Result<Tokens> decode_chain(Tokens tokens) const override {
    for (std::string& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t i = 0; i < start_ && std::string_view(t).substr(begin).starts_with(content_); ++i)
        begin += content_.size();
      for (size_t i = 0;
           i < stop_ && end >= begin + content_.size() && std::string_view(t).substr(0, end).ends_with(content_); ++i) {
        end -= content_.size();
      }
      t = t.substr(begin, end - begin);
    }
    return tokens;
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// The metaspace becomes a space, except in the first token when a prefix was prepended: there every
// metaspace is dropped (HF's behaviour, not only the leading one).
class Metaspace final : public Decoder {
 public:
  Metaspace(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  Result<Tokens> decode_chain(Tokens tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string_view with = i == 0 && drop_in_first_ ? "" : " ";
      std::string out;
      const std::string& t = tokens[i];
      for (size_t at = 0; at < t.size();) {
        if (std::string_view(t).substr(at).starts_with(replacement_)) {
          out += with;
          at += replacement_.size();
        } else {
          out.push_back(t[at++]);
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool drop_in_first_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  Result<Tokens> decode_chain(Tokens tokens) const override {
    for (const auto& step : steps_) {
      MIXSERVE_ASSIGN_OR_RETURN(tokens, step->decode_chain(std::move(tokens)));
    }
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

Result<std::string> single_char(const json& j, const char* key, const std::string& where) {
  MIXSERVE_ASSIGN_OR_RETURN(std::string c, json_string(j, key, where));
  if (c.empty() || utf8::scan(c, 0).length != c.size())
    return invalid_argument(where + ": '" + key + "' must be one character");
  return c;
}

Result<size_t> count_field(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return invalid_argument(where + ": '" + key + "' must be a count");
  return it->get<size_t>();
}

Result<std::unique_ptr<Decoder>> metaspace_from_json(const json& j) {
  const std::string where = "decoder Metaspace";
  MIXSERVE_ASSIGN_OR_RETURN(std::string replacement, single_char(j, "replacement", where));
  MIXSERVE_ASSIGN_OR_RETURN(const auto scheme, json_optional_string(j, "prepend_scheme", where));
  MIXSERVE_ASSIGN_OR_RETURN(const bool add_prefix_space, json_bool(j, "add_prefix_space", true, where));
  const bool prepends = add_prefix_space && scheme.value_or("always") != "never";
  return std::unique_ptr<Decoder>(std::make_unique<Metaspace>(std::move(replacement), prepends));
}

}  // namespace

Result<std::unique_ptr<Decoder>> decoder_from_json(const json& j) {
  if (j.is_null()) return std::unique_ptr<Decoder>();
  MIXSERVE_ASSIGN_OR_RETURN(const std::string type, json_type_of(j, "decoder"));
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(std::make_unique<ByteLevel>());
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(std::make_unique<ByteFallback>());
  if (type == "Fuse") return std::unique_ptr<Decoder>(std::make_unique<Fuse>());
  if (type == "Metaspace") return metaspace_from_json(j);
  if (type == "Replace") {
    if (!j.contains("pattern")) return invalid_argument("decoder Replace: missing 'pattern'");
    MIXSERVE_ASSIGN_OR_RETURN(Pattern pattern, Pattern::from_json(j["pattern"], "decoder Replace"));
    MIXSERVE_ASSIGN_OR_RETURN(std::string content, json_string(j, "content", "decoder Replace"));
    return std::unique_ptr<Decoder>(std::make_unique<Replace>(std::move(pattern), std::move(content)));
  }
  if (type == "Strip") {
    MIXSERVE_ASSIGN_OR_RETURN(std::string content, single_char(j, "content", "decoder Strip"));
    MIXSERVE_ASSIGN_OR_RETURN(const size_t start, count_field(j, "start", "decoder Strip"));
    MIXSERVE_ASSIGN_OR_RETURN(const size_t stop, count_field(j, "stop", "decoder Strip"));
    return std::unique_ptr<Decoder>(std::make_unique<Strip>(std::move(content), start, stop));
  }
  if (type == "Sequence") {
    MIXSERVE_ASSIGN_OR_RETURN(const json* items, json_array(j, "decoders", "decoder Sequence"));
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const json& item : *items) {
      MIXSERVE_ASSIGN_OR_RETURN(auto step, decoder_from_json(item));
      if (step) steps.push_back(std::move(step));
    }
    return std::unique_ptr<Decoder>(std::make_unique<Sequence>(std::move(steps)));
  }
  return unsupported(
      "decoder type '" + type +
      "' is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)");
}

}  // namespace mixserve
