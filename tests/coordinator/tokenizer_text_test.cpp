// The text layer under the tokenizer: UTF-8 scanning and repair, the GPT-2 byte map, PCRE2 with Oniguruma's
// classes, and split patterns.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "coordinator/tokenizer/byte_level.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/regex.h"
#include "coordinator/tokenizer/unicode.h"
#include "test_support.h"

namespace mixserve {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, ScanAcceptsEveryWellFormedLengthAndRejectsTheIllFormed) {
  EXPECT_TRUE(utf8::is_valid("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // a é € 😀
  EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));                              // overlong '/'
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));                          // a surrogate
  EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));                      // above U+10FFFF
  EXPECT_FALSE(utf8::is_valid("\xE2\x82"));                              // truncated
  EXPECT_EQ(utf8::first_invalid("ab\xFF"), 2u);
}

TEST(Utf8, RepairReplacesEachMaximalSubpartLikePython) {
  // Expected values are Python's bytes.decode("utf-8", errors="replace").
  EXPECT_EQ(utf8::repair("a\xFF"
                         "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(utf8::repair("\xE2\x82"
                         "A"),
            kFffd + "A");                                          // one U+FFFD for the truncated sequence
  EXPECT_EQ(utf8::repair("\xF0\x9F\x98"), kFffd);                  // truncated at the end
  EXPECT_EQ(utf8::repair("\xC0\xAF"), kFffd + kFffd);              // C0 is never a lead byte
  EXPECT_EQ(utf8::repair("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // ED A0: second byte out of range
  EXPECT_EQ(utf8::repair("ok \xC3\xA9"), "ok \xC3\xA9");
}

TEST(Utf8, EncodeDecodeRoundTripRandomCodePoints) {
  auto rng = test::make_rng(1);
  for (int i = 0; i < 20000; ++i) {
    char32_t c = static_cast<char32_t>(rng() % 0x110000);
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string s;
    utf8::append(s, c);
    ASSERT_TRUE(utf8::is_valid(s)) << std::hex << static_cast<uint32_t>(c);
    ASSERT_EQ(utf8::scan(s, 0).length, s.size());
    ASSERT_EQ(static_cast<uint32_t>(utf8::decode_at(s, 0)), static_cast<uint32_t>(c));
  }
}

TEST(ByteLevel, MapsEveryByteToOneCharacterAndBack) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string chars;
  byte_level::append_chars(chars, all);
  EXPECT_TRUE(utf8::is_valid(chars));
  const auto back = byte_level::to_bytes(chars);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  // GPT-2's well-known spellings: space is 'Ġ' (U+0120), newline 'Ċ' (U+010A), printable ASCII is itself.
  EXPECT_EQ(byte_level::char_of_byte(' '), "\xC4\xA0");
  EXPECT_EQ(byte_level::char_of_byte('\n'), "\xC4\x8A");
  EXPECT_EQ(byte_level::char_of_byte('A'), "A");
  EXPECT_FALSE(byte_level::to_bytes("\xE2\x82\xAC").has_value());  // '€' is not a byte character
}

TEST(ByteLevel, RandomBytesRoundTrip) {
  auto rng = test::make_rng(2);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& b : bytes) b = static_cast<char>(rng());
    std::string chars;
    byte_level::append_chars(chars, bytes);
    ASSERT_EQ(byte_level::to_bytes(chars), bytes);
  }
}

std::vector<std::string> matches(const Regex& re, std::string_view s) {
  std::vector<std::string> out;
  EXPECT_TRUE(re.for_each_match(s, [&](Regex::Span m) { out.emplace_back(s.substr(m.start, m.end - m.start)); }).ok());
  return out;
}

TEST(Regex, WhitespaceClassIsOnigurumasWhiteSpace) {
  auto re = Regex::compile(R"(\s+)");
  ASSERT_TRUE(re.ok()) << re.status().to_string();
  // U+180E is White_Space for PCRE2's \s but not for Oniguruma (it is a format character since Unicode 6.3).
  EXPECT_EQ(matches(*re,
                    "a \xE1\xA0\x8E"
                    "b"),
            std::vector<std::string>{" "});
  EXPECT_EQ(matches(*re,
                    "a\xC2\x85\xE3\x80\x80"
                    "b"),
            std::vector<std::string>{"\xC2\x85\xE3\x80\x80"});  // NEL, U+3000
  auto negated = Regex::compile(R"([^\s\p{L}]+)");
  ASSERT_TRUE(negated.ok());
  EXPECT_EQ(matches(*negated, "ab 12 \xE1\xA0\x8E"), (std::vector<std::string>{"12", "\xE1\xA0\x8E"}));
}

TEST(Regex, TranslationLeavesOtherSyntaxAlone) {
  EXPECT_EQ(oniguruma_compatible_pattern(R"(a\.b)"), R"(a\.b)");
  EXPECT_EQ(oniguruma_compatible_pattern(R"([]\s])"), R"([]\t-\r\x{85}\p{Z}])");
  EXPECT_EQ(oniguruma_compatible_pattern(R"(\S+)"), R"([^\t-\r\x{85}\p{Z}]+)");
  EXPECT_EQ(oniguruma_compatible_pattern(R"([^\S])"), R"([^\S])");  // a negated class inside a class stays
}

TEST(Regex, EmptyMatchesAdvanceLikeOniguruma) {
  auto re = Regex::compile("x*");
  ASSERT_TRUE(re.ok());
  // Oniguruma yields the empty match at 0, "xx", then empty matches where no match just ended.
  EXPECT_EQ(matches(*re, "axxb"), (std::vector<std::string>{"", "xx", ""}));
}

TEST(Regex, BadPatternIsInvalidArgumentNamingIt) {
  auto re = Regex::compile("(unclosed");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(re.status().message().find("(unclosed"), std::string::npos);
}

TEST(Regex, Llama3PatternSplitsLikeHf) {
  auto re = Regex::compile(
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(matches(*re, "I'M 12345 ok!!\n\n  x"),
            (std::vector<std::string>{"I", "'M", " ", "123", "45", " ok", "!!\n\n", " ", " x"}));
}

std::vector<TextSpan> spans(const Pattern& p, std::string_view s) {
  std::vector<TextSpan> out;
  EXPECT_TRUE(p.find_spans(s, [&](TextSpan span) { out.push_back(span); }).ok());
  return out;
}

TEST(Pattern, SpansCoverTheTextInOrder) {
  const Pattern dash = Pattern::literal("-");
  const auto got = spans(dash, "a-b--c");
  const std::vector<std::pair<size_t, bool>> want = {{1, false}, {2, true}, {3, false},
                                                     {4, true},  {5, true}, {6, false}};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].end, want[i].first) << i;
    EXPECT_EQ(got[i].is_match, want[i].second) << i;
  }
  EXPECT_EQ(spans(dash, "").size(), 1u);  // HF: one empty unmatched span
  auto replaced = dash.replace_all("a-b--c", "+");
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(*replaced, "a+b++c");
}

}  // namespace
}  // namespace mixserve
