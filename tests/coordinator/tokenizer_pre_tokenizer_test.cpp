// Pre-tokenizers on hand-written tokenizer.json files. The model has ignore_merges and whole-word vocabulary
// entries, so a word the pre-tokenizer produces shows up as one id and the ids reveal where it cut.
#include "coordinator/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace mixserve {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kMeta = "\xE2\x96\x81";  // ▁
const std::string kG = "\xC4\xA0";         // Ġ, the byte-level space

Ids encode_with(const std::vector<std::string>& vocab, const json& pre_tokenizer, const std::string& text,
                const json& added_tokens = json::array()) {
  json v = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = static_cast<int>(i);
  const json j = {{"version", "1.0"},
                  {"added_tokens", added_tokens},
                  {"normalizer", nullptr},
                  {"pre_tokenizer", pre_tokenizer},
                  {"post_processor", nullptr},
                  {"decoder", nullptr},
                  {"model", {{"type", "BPE"}, {"vocab", v}, {"merges", json::array()}, {"ignore_merges", true}}}};
  test::TempDir dir;
  test::write_file(dir.file("tokenizer.json"), j.dump());
  auto t = Tokenizer::load(dir.path());
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return {};
  auto ids = (*t)->encode(text, false);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? *ids : Ids{};
}

json split(const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
}

TEST(PreTokenizers, SplitBehaviorsFoldDelimitersAsHfDoes) {
  const std::vector<std::string> vocab = {"a", "b", "c", "-", "a-", "b-", "-b", "-c", "--"};
  const std::string text = "a-b--c";
  EXPECT_EQ(encode_with(vocab, split("Removed"), text), (Ids{0, 1, 2}));
  EXPECT_EQ(encode_with(vocab, split("Isolated"), text), (Ids{0, 3, 1, 3, 3, 2}));
  EXPECT_EQ(encode_with(vocab, split("MergedWithPrevious"), text), (Ids{4, 5, 3, 2}));
  EXPECT_EQ(encode_with(vocab, split("MergedWithNext"), text), (Ids{0, 6, 3, 7}));
  EXPECT_EQ(encode_with(vocab, split("Contiguous"), text), (Ids{0, 3, 1, 8, 2}));
  // Inverted, the letters are the delimiters; adjacent matches stay separate pieces, as in HF.
  EXPECT_EQ(encode_with(vocab, split("Removed", /*invert=*/true), text), (Ids{3, 3, 3}));
  EXPECT_EQ(encode_with(vocab, split("Contiguous", /*invert=*/true), text), (Ids{0, 3, 1, 8, 2}));
}

TEST(PreTokenizers, ByteLevelWithGpt2RegexAndPrefixSpace) {
  const std::vector<std::string> vocab = {kG + "hi", "hi", kG, "h", "i", "!"};
  const json with_prefix = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  const json without_prefix = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(encode_with(vocab, with_prefix, "hi hi!"), (Ids{0, 0, 5}));
  EXPECT_EQ(encode_with(vocab, without_prefix, "hi hi!"), (Ids{1, 0, 5}));
  const json no_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  EXPECT_EQ(encode_with(vocab, no_regex, "hi"), (Ids{1}));
}

TEST(PreTokenizers, MetaspacePrependSchemes) {
  const std::vector<std::string> vocab = {kMeta + "hi", "hi", kMeta, "h", "i"};
  const json special = json::array({{{"id", 5}, {"content", "<s>"}, {"special", true}, {"normalized", false}}});
  const auto metaspace = [](const std::string& scheme) {
    return json{{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", true}};
  };
  EXPECT_EQ(encode_with(vocab, metaspace("always"), "hi hi"), (Ids{0, 0}));
  EXPECT_EQ(encode_with(vocab, metaspace("always"), "<s>hi", special), (Ids{5, 0}));
  EXPECT_EQ(encode_with(vocab, metaspace("first"), "hi", special), (Ids{0}));
  EXPECT_EQ(encode_with(vocab, metaspace("first"), "<s>hi", special), (Ids{5, 1}));  // not at the text's start
  EXPECT_EQ(encode_with(vocab, metaspace("never"), "hi hi"), (Ids{1, 0}));
}

TEST(PreTokenizers, DigitsAndSequence) {
  const std::vector<std::string> vocab = {"a", "b", "1", "2", "3", "123", "a1", "-"};
  const json contiguous = {{"type", "Digits"}, {"individual_digits", false}};
  const json individual = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_EQ(encode_with(vocab, contiguous, "a123b"), (Ids{0, 5, 1}));
  EXPECT_EQ(encode_with(vocab, individual, "a123b"), (Ids{0, 2, 3, 4, 1}));
  const json sequence = {{"type", "Sequence"}, {"pretokenizers", {split("Removed"), contiguous}}};
  EXPECT_EQ(encode_with(vocab, sequence, "a1-123"), (Ids{0, 2, 5}));
}

}  // namespace
}  // namespace mixserve
