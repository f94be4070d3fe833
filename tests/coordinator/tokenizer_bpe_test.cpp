// The BPE model on small hand-written tokenizer.json files: merge order (against an independent reference
// implementation), ignore_merges, byte fallback, unk, and the SentencePiece-style pipeline of Llama 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "coordinator/tokenizer/tokenizer.h"
#include "test_support.h"

namespace mixserve {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kMeta = "\xE2\x96\x81";  // ▁

json bpe_model(const json& vocab, const json& merges) {
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"vocab", vocab},
          {"merges", merges}};
}

json tokenizer_json(const json& model) {
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", model}};
}

std::unique_ptr<Tokenizer> load_or_die(const test::TempDir& dir, const json& j, const TokenizerOptions& options = {}) {
  test::write_file(dir.file("tokenizer.json"), j.dump());
  auto t = Tokenizer::load(dir.path(), options);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(*t) : nullptr;
}

Ids encode(const Tokenizer& t, const std::string& text, bool add_special = false) {
  auto ids = t.encode(text, add_special);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? *ids : Ids{};
}

TEST(BpeModel, LowestRankMergesFirst) {
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}};
  test::TempDir d1, d2;
  auto bc_first = load_or_die(d1, tokenizer_json(bpe_model(vocab, {"b c", "a b"})));
  auto ab_first = load_or_die(
      d2, tokenizer_json(bpe_model(vocab, json::array({json::array({"a", "b"}), json::array({"b", "c"})}))));
  ASSERT_TRUE(bc_first && ab_first);
  EXPECT_EQ(encode(*bc_first, "abc"), (Ids{0, 4}));
  EXPECT_EQ(encode(*ab_first, "abc"), (Ids{3, 2}));
}

TEST(BpeModel, EqualRanksMergeLeftmostFirst) {
  test::TempDir d;
  auto t = load_or_die(d, tokenizer_json(bpe_model({{"a", 0}, {"aa", 1}}, {"a a"})));
  ASSERT_TRUE(t);
  EXPECT_EQ(encode(*t, "aaa"), (Ids{1, 0}));
  EXPECT_EQ(encode(*t, "aaaaa"), (Ids{1, 1, 0}));
}

// The textbook BPE loop, written independently of bpe_model.cpp: merge the lowest-ranked adjacent pair
// (leftmost among equals) until none is left.
std::vector<std::string> reference_bpe(const std::string& word,
                                       const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> parts;
  for (char c : word) parts.emplace_back(1, c);
  for (;;) {
    int best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = ranks.find({parts[i], parts[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) best = it->second, at = i;
    }
    if (best < 0) return parts;
    parts[at] += parts[at + 1];
    parts.erase(parts.begin() + static_cast<ptrdiff_t>(at) + 1);
  }
}

TEST(BpeModel, MatchesTheTextbookLoopOnRandomVocabularies) {
  auto rng = test::make_rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::string> tokens = {"a", "b", "c", "d"};
    std::map<std::pair<std::string, std::string>, int> ranks;
    json merges = json::array();
    std::set<std::string> known(tokens.begin(), tokens.end());
    while (merges.size() < 40) {
      const std::string& l = tokens[rng() % tokens.size()];
      const std::string& r = tokens[rng() % tokens.size()];
      if (ranks.count({l, r}) || l.size() + r.size() > 6) continue;
      ranks[{l, r}] = static_cast<int>(merges.size());
      merges.push_back(json::array({l, r}));
      if (known.insert(l + r).second) tokens.push_back(l + r);
    }
    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int>(i);
    test::TempDir dir;
    auto t = load_or_die(dir, tokenizer_json(bpe_model(vocab, merges)));
    ASSERT_TRUE(t);
    for (int w = 0; w < 100; ++w) {
      std::string word(1 + rng() % 12, 'a');
      for (char& c : word) c = static_cast<char>('a' + rng() % 4);
      Ids want;
      for (const std::string& part : reference_bpe(word, ranks)) want.push_back(vocab[part].get<int32_t>());
      ASSERT_EQ(encode(*t, word), want) << "trial " << trial << " word " << word << " seed " << test::run_seed();
    }
  }
}

TEST(BpeModel, IgnoreMergesTakesAWholeWordFromTheVocabulary) {
  // "abc" is in the vocabulary but no merge builds it.
  json model = bpe_model({{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}}, {"a b"});
  test::TempDir d1, d2;
  auto plain = load_or_die(d1, tokenizer_json(model));
  model["ignore_merges"] = true;
  auto ignoring = load_or_die(d2, tokenizer_json(model));
  ASSERT_TRUE(plain && ignoring);
  EXPECT_EQ(encode(*plain, "abc"), (Ids{3, 2}));
  EXPECT_EQ(encode(*ignoring, "abc"), (Ids{4}));
  EXPECT_EQ(encode(*ignoring, "abcab"), (Ids{3, 2, 3}));  // not itself in the vocabulary: merged as usual
}

TEST(BpeModel, UnknownCharactersBecomeUnkFusedOrNot) {
  json model = bpe_model({{"<unk>", 0}, {"a", 1}}, json::array());
  model["unk_token"] = "<unk>";
  test::TempDir d1, d2;
  auto separate = load_or_die(d1, tokenizer_json(model));
  model["fuse_unk"] = true;
  auto fused = load_or_die(d2, tokenizer_json(model));
  ASSERT_TRUE(separate && fused);
  EXPECT_EQ(encode(*separate, "axya"), (Ids{1, 0, 0, 1}));
  EXPECT_EQ(encode(*fused, "axya"), (Ids{1, 0, 1}));
}

TEST(BpeModel, MergeOutsideTheVocabularyIsRejectedNamingIt) {
  test::TempDir d;
  test::write_file(d.file("tokenizer.json"), tokenizer_json(bpe_model({{"a", 0}, {"b", 1}}, {"a b"})).dump());
  auto t = Tokenizer::load(d.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(t.status().message().find("'ab'"), std::string::npos) << t.status().message();
}

// A Llama 2 style tokenizer: Prepend/Replace normalizer, no pre-tokenizer, byte fallback, the
// Replace/ByteFallback/Fuse/Strip decoder and a "<s> $A" template.
json llama2_style() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int next = 259;
  for (const std::string& t :
       {kMeta, std::string("h"), std::string("i"), std::string("hi"), kMeta + "hi", kMeta + kMeta}) {
    vocab[t] = next++;
  }
  json model = bpe_model(vocab, {"h i", kMeta + " hi", kMeta + " " + kMeta});
  model["unk_token"] = "<unk>";
  model["byte_fallback"] = true;
  model["fuse_unk"] = true;
  json j = tokenizer_json(model);
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", kMeta}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  j["added_tokens"] = json::array();
  for (const char* special : {"<unk>", "<s>", "</s>"}) {
    j["added_tokens"].push_back(
        {{"id", vocab[special]}, {"content", special}, {"special", true}, {"normalized", false}});
  }
  return j;
}

TEST(BpeModel, ByteFallbackSpellsUnknownCharactersAsBytes) {
  test::TempDir d;
  auto t = load_or_die(d, llama2_style());
  ASSERT_TRUE(t);
  const int32_t meta = 259, hi = 262, meta_hi = 263;
  // "hi €": ▁hi ▁ then € as its three UTF-8 bytes E2 82 AC.
  EXPECT_EQ(encode(*t, "hi \xE2\x82\xAC"), (Ids{meta_hi, meta, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
  EXPECT_EQ(encode(*t, "hi", /*add_special=*/true), (Ids{1, meta_hi}));
  EXPECT_EQ(encode(*t, "hi hi"), (Ids{meta_hi, meta_hi}));
  EXPECT_EQ(encode(*t, "hihi"), (Ids{meta_hi, hi}));
  auto text = t->decode({meta_hi, meta, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}, false);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hi \xE2\x82\xAC");
}

TEST(BpeModel, LongNormalizedInputMatchesWordByWordEncoding) {
  // Without a pre-tokenizer the whole input is one word; cutting it at word boundaries must not change ids.
  test::TempDir d;
  auto t = load_or_die(d, llama2_style());
  ASSERT_TRUE(t);
  auto rng = test::make_rng(4);
  std::string text;
  Ids want = encode(*t, "hi");
  for (int i = 0; i < 2000; ++i) {
    const std::string word = (rng() % 3 == 0) ? "hih" : "hi";
    text += " " + word;
    const Ids one = encode(*t, " " + word);
    want.insert(want.end(), one.begin() + 1, one.end());  // drop the ▁ of the prepended space
  }
  EXPECT_EQ(encode(*t, "hi" + text), want);
}

}  // namespace
}  // namespace mixserve
