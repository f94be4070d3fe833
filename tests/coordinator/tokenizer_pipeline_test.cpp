// The steps around the BPE model on small hand-written tokenizer.json files: added and special tokens with
// their flags, decoders, invalid UTF-8, bad ids, unsupported components, malformed files, BOS/EOS config.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "coordinator/tokenizer/tokenizer.h"
#include "test_support.h"

namespace mixserve {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

// A model whose vocabulary is single characters (ids in order of `chars`) and no merges.
json char_tokenizer(const std::vector<std::string>& chars) {
  json vocab = json::object();
  for (size_t i = 0; i < chars.size(); ++i) vocab[chars[i]] = static_cast<int>(i);
  json model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}, {"unk_token", nullptr}};
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", model}};
}

json added(int id, const std::string& content, json flags = json::object()) {
  json t = {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", false}};
  t.update(flags);
  return t;
}

Result<std::unique_ptr<Tokenizer>> load_json(const test::TempDir& dir, const json& j, const TokenizerOptions& o = {}) {
  test::write_file(dir.file("tokenizer.json"), j.dump());
  return Tokenizer::load(dir.path(), o);
}

// Ids of `text` in a tokenizer over "a", "b", " ", "<", "w", ">" with the given added tokens (ids from 6).
Ids encode_with(const std::vector<json>& added_tokens, const std::string& text) {
  json j = char_tokenizer({"a", "b", " ", "<", "w", ">"});
  j["added_tokens"] = json(added_tokens);
  test::TempDir dir;
  auto t = load_json(dir, j);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return {};
  auto ids = (*t)->encode(text, false);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? *ids : Ids{};
}

TEST(AddedTokens, StripFlagsSwallowTheNeighbouringWhitespace) {
  // a=0 b=1 ' '=2; the added token is 6.
  EXPECT_EQ(encode_with({added(6, "<m>")}, "a <m> b"), (Ids{0, 2, 6, 2, 1}));
  EXPECT_EQ(encode_with({added(6, "<m>", {{"lstrip", true}})}, "a  <m> b"), (Ids{0, 6, 2, 1}));
  EXPECT_EQ(encode_with({added(6, "<m>", {{"rstrip", true}})}, "a <m>  b"), (Ids{0, 2, 6, 1}));
}

TEST(AddedTokens, SingleWordNeedsNoWordCharacterAround) {
  const std::vector<json> w = {added(6, "<w>", {{"single_word", true}})};
  EXPECT_EQ(encode_with(w, "a <w> b"), (Ids{0, 2, 6, 2, 1}));
  EXPECT_EQ(encode_with(w, "a<w> b"), (Ids{0, 3, 4, 5, 2, 1}));  // 'a' touches it: spelled out
  EXPECT_EQ(encode_with(w, "<w>"), (Ids{6}));
}

TEST(AddedTokens, LongestTokenWinsAndSearchResumesAfterIt) {
  const std::vector<json> tokens = {added(6, "<w"), added(7, "<w>")};
  EXPECT_EQ(encode_with(tokens, "a<w>b<w"), (Ids{0, 7, 1, 6}));
}

TEST(AddedTokens, SpecialTokensAreRecognisedInTextAndSkippableOnDecode) {
  json j = char_tokenizer({"a", "b"});
  j["added_tokens"] = json::array({added(2, "<s>", {{"special", true}}), added(3, "<x>")});
  j["decoder"] = {{"type", "Fuse"}};
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto ids = (*t)->encode("<s>a<x>b", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (Ids{2, 0, 3, 1}));
  EXPECT_TRUE((*t)->is_special(2));
  EXPECT_FALSE((*t)->is_special(3));
  EXPECT_EQ((*t)->decode(*ids, false).value(), "<s>a<x>b");
  EXPECT_EQ((*t)->decode(*ids, true).value(), "a<x>b");  // only special tokens are skipped
  EXPECT_EQ((*t)->vocab_size(), 4);
  EXPECT_EQ((*t)->token_text(2), "<s>");
}

TEST(AddedTokens, NormalizedTokensAreFoundInNormalizedText) {
  json j = char_tokenizer({"a", "_"});
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "_"}};
  j["added_tokens"] = json::array({added(2, "a a", {{"normalized", true}})});
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->encode("a a a", false).value(), (Ids{2, 1, 0}));
  EXPECT_EQ((*t)->encode("a_a", false).value(), (Ids{2}));  // "a_a" is the token's normalized spelling
}

TEST(Decoders, ByteFallbackReplacesEachByteOfAnInvalidRun) {
  json j = char_tokenizer({"<0xE2>", "<0x82>", "<0xAC>", "<0x41>", "x"});
  j["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ((*t)->decode({0, 1, 2}, false).value(), "\xE2\x82\xAC");
  EXPECT_EQ((*t)->decode({0, 3, 4}, false).value(), fffd + fffd + "x");  // HF: one U+FFFD per byte of the run
  EXPECT_EQ((*t)->decode({3, 4, 0}, false).value(), "Ax" + fffd);
}

TEST(Decoders, StripAndMetaspace) {
  const std::string meta = "\xE2\x96\x81";
  json j = char_tokenizer({meta + "a", "b", meta + meta + "c", " x "});
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "always"}, {"split", true}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 1}}}}};
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  // Metaspace drops every ▁ of the first token and spaces the others; Strip then works token by token.
  EXPECT_EQ((*t)->decode({0, 1, 2}, false).value(), "ab c");
  EXPECT_EQ((*t)->decode({2, 3}, false).value(), "cx");
}

TEST(Decoders, ByteLevelRepairsBytesAcrossTokens) {
  json j = char_tokenizer({"\xC3\xA2", "\xC4\xA4", "\xC2\xAC", "A"});  // byte chars of E2, 82, AC
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->decode({0, 1, 2}, false).value(), "\xE2\x82\xAC");
  EXPECT_EQ((*t)->decode({0, 1, 3}, false).value(),
            "\xEF\xBF\xBD"
            "A");  // E2 82 is one maximal subpart
}

TEST(BadInput, InvalidUtf8IsReplacedByDefaultAndRejectedOnRequest) {
  json j = char_tokenizer({"a", "b", "\xEF\xBF\xBD"});
  test::TempDir d1, d2;
  auto lenient = load_json(d1, j);
  auto strict = load_json(d2, j, {.reject_invalid_utf8 = true});
  ASSERT_TRUE(lenient.ok() && strict.ok());
  EXPECT_EQ((*lenient)
                ->encode("a\xFF\xFE"
                         "b",
                         false)
                .value(),
            (Ids{0, 2, 2, 1}));
  EXPECT_EQ((*lenient)->encode("a\xE2\x82", false).value(), (Ids{0, 2}));  // a truncated character is one U+FFFD
  auto rejected = (*strict)->encode("ab\xFF", false);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(rejected.status().message().find("offset 2"), std::string::npos) << rejected.status().message();
  EXPECT_TRUE((*strict)->encode("ab", false).ok());
}

TEST(BadInput, DecodeOfIdsOutsideTheVocabularyNamesTheId) {
  test::TempDir dir;
  auto t = load_json(dir, char_tokenizer({"a", "b"}));
  ASSERT_TRUE(t.ok());
  for (const int32_t bad : {2, -1, 1 << 30}) {
    auto text = (*t)->decode({0, bad}, false);
    ASSERT_FALSE(text.ok()) << bad;
    EXPECT_EQ(text.status().code(), StatusCode::out_of_range);
    EXPECT_NE(text.status().message().find(std::to_string(bad)), std::string::npos) << text.status().message();
  }
}

void expect_unsupported(const json& j, const std::string& name) {
  test::TempDir dir;
  auto t = load_json(dir, j);
  ASSERT_FALSE(t.ok()) << name;
  EXPECT_EQ(t.status().code(), StatusCode::unsupported) << t.status().to_string();
  EXPECT_NE(t.status().message().find("'" + name + "'"), std::string::npos) << t.status().message();
}

TEST(BadInput, UnsupportedComponentsAreNamed) {
  json wordpiece = char_tokenizer({"a"});
  wordpiece["model"] = {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", "[UNK]"}};
  expect_unsupported(wordpiece, "WordPiece");
  json unigram = char_tokenizer({"a"});
  unigram["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  expect_unsupported(unigram, "Unigram");
  json nfc = char_tokenizer({"a"});
  nfc["normalizer"] = {{"type", "NFC"}};
  expect_unsupported(nfc, "NFC");
  json whitespace = char_tokenizer({"a"});
  whitespace["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}};
  expect_unsupported(whitespace, "Whitespace");
  json wordpiece_decoder = char_tokenizer({"a"});
  wordpiece_decoder["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  expect_unsupported(wordpiece_decoder, "WordPiece");
}

TEST(BadInput, MalformedOrMissingFilesNameTheFile) {
  test::TempDir dir;
  test::write_file(dir.file("tokenizer.json"), "{\"model\": {");
  auto t = Tokenizer::load(dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(t.status().message().find(dir.file("tokenizer.json")), std::string::npos) << t.status().message();

  test::TempDir empty;
  auto missing = Tokenizer::load(empty.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);

  test::TempDir bad_config;
  test::write_file(bad_config.file("tokenizer.json"), char_tokenizer({"a"}).dump());
  test::write_file(bad_config.file("tokenizer_config.json"), "{\"bos_token\": ");
  auto config = Tokenizer::load(bad_config.path());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("tokenizer_config.json"), std::string::npos) << config.status().message();
}

TEST(Config, BosEosFromTokenizerConfigAndGenerationConfig) {
  json j = char_tokenizer({"a", "<s>", "</s>", "<eot>"});
  test::TempDir dir;
  test::write_file(dir.file("tokenizer_config.json"),
                   R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
                       "chat_template": "{{ bos_token }}"})");
  test::write_file(dir.file("generation_config.json"), R"({"bos_token_id": 1, "eos_token_id": [2, 3]})");
  auto t = load_json(dir, j);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->bos_id(), 1);
  EXPECT_EQ((*t)->bos_token(), "<s>");
  EXPECT_EQ((*t)->eos_token(), "</s>");
  EXPECT_EQ((*t)->eos_ids(), (Ids{2, 3}));
  EXPECT_EQ((*t)->chat_template(), "{{ bos_token }}");

  test::TempDir bare;
  auto none = load_json(bare, j);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->bos_id(), -1);
  EXPECT_TRUE((*none)->eos_ids().empty());
  EXPECT_TRUE((*none)->chat_template().empty());
}

}  // namespace
}  // namespace mixserve
