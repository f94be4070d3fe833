// The real tokenizers of deploy/fetch-tokenizers.sh (third_party/tokenizers/{llama3,llama2}). Expected ids are
// HF tokenizers 0.23.2's encode of the same files (Tokenizer.from_file(...).encode(text, add_special_tokens)).
// The "llama2" package ships a 32000-entry SentencePiece BPE vocabulary ("Hello" is 22557, as in Mistral 7B),
// and the llama3 tokenizer.json's post-processor is ByteLevel, which adds no BOS: HF gives the same ids
// with and without add_special_tokens there.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "coordinator/tokenizer/unicode.h"
#include "real_tokenizers.h"
#include "test_support.h"

namespace mixserve {
namespace {

using Ids = std::vector<int32_t>;

struct Known {
  std::string text;
  Ids ids;          // add_special_tokens false
  Ids ids_special;  // add_special_tokens true
};

void expect_known(const Tokenizer& t, const std::vector<Known>& cases) {
  for (const Known& k : cases) {
    auto ids = t.encode(k.text, false);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(*ids, k.ids) << k.text;
    auto special = t.encode(k.text, true);
    ASSERT_TRUE(special.ok());
    EXPECT_EQ(*special, k.ids_special) << k.text;
  }
}

const std::string kMixed =
    "hello\xF0\x9F\xA4\x96<0xE2>\xF0\xA0\x80\x8B|+\xE3\x80\x80\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1"
    "\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5\xCE\xA9";  // hello🤖<0xE2>𠀋|+　สวัสดีΩ

TEST(RealLlama3, KnownEncodings) {
  const Tokenizer* t = test::real_tokenizer("llama3");
  ASSERT_NE(t, nullptr);
  expect_known(
      *t,
      {
          {"Hello world", {9906, 1917}, {9906, 1917}},
          {"", {}, {}},
          {"123456789", {4513, 10961, 16474}, {4513, 10961, 16474}},
          {"+44 20 7946 0958",
           {10, 2096, 220, 508, 220, 25926, 21, 220, 26421, 23},
           {10, 2096, 220, 508, 220, 25926, 21, 220, 26421, 23}},
          {"\v\v x", {199, 199, 865}, {199, 199, 865}},
          {" <s> ", {366, 82, 29, 220}, {366, 82, 29, 220}},
          {"<|begin_of_text|><|begin_of_text|>", {128000, 128000}, {128000, 128000}},
          {kMixed,
           {15339, 9468, 97, 244, 27, 15, 12892, 17, 29, 172, 64319, 233, 91, 10, 23249, 106123, 119657, 29419, 101418},
           {15339, 9468, 97, 244, 27, 15, 12892, 17, 29, 172, 64319, 233, 91, 10, 23249, 106123, 119657, 29419,
            101418}},
      });
}

TEST(RealLlama2, KnownEncodings) {
  const Tokenizer* t = test::real_tokenizer("llama2");
  ASSERT_NE(t, nullptr);
  expect_known(*t, {
                       {"Hello world", {22557, 1526}, {1, 22557, 1526}},
                       {"", {}, {1}},
                       {"123456789",
                        {28705, 28740, 28750, 28770, 28781, 28782, 28784, 28787, 28783, 28774},
                        {1, 28705, 28740, 28750, 28770, 28781, 28782, 28784, 28787, 28783, 28774}},
                       {" <s> ", {259, 1, 259}, {1, 259, 1, 259}},
                       {"\xE2\x91\xA0", {28705, 229, 148, 163}, {1, 28705, 229, 148, 163}},  // ① by byte fallback
                       {kMixed,
                        {6312, 28709, 243,   162,   167,   153,   28789, 28734, 9695,  28750, 28767, 243,  163,
                         131,  142,   28766, 28806, 29351, 29524, 29519, 29378, 29524, 29488, 29560, 30146},
                        {1,   6312, 28709, 243,   162,   167,   153,   28789, 28734, 9695,  28750, 28767, 243,
                         163, 131,  142,   28766, 28806, 29351, 29524, 29519, 29378, 29524, 29488, 29560, 30146}},
                   });
}

TEST(RealTokenizers, SpecialTokensAndConfig) {
  const Tokenizer* l3 = test::real_tokenizer("llama3");
  const Tokenizer* l2 = test::real_tokenizer("llama2");
  ASSERT_TRUE(l3 && l2);
  EXPECT_EQ(l3->vocab_size(), 128256);
  EXPECT_EQ(l3->bos_id(), 128000);
  EXPECT_EQ(l3->eos_ids(), (Ids{128001}));
  EXPECT_TRUE(l3->is_special(128009));
  EXPECT_FALSE(l3->is_special(9906));
  EXPECT_EQ(l3->token_text(128009), "<|eot_id|>");
  EXPECT_NE(l3->chat_template().find("<|start_header_id|>"), std::string::npos);
  EXPECT_EQ(l2->vocab_size(), 32000);
  EXPECT_EQ(l2->bos_id(), 1);
  EXPECT_EQ(l2->eos_ids(), (Ids{2}));
  EXPECT_EQ(l2->token_text(13), "<0x0A>");

  EXPECT_EQ(l3->decode({128000, 9906, 1917, 128009}, false).value(), "<|begin_of_text|>Hello world<|eot_id|>");
  EXPECT_EQ(l3->decode({128000, 9906, 1917, 128009}, true).value(), "Hello world");
  EXPECT_EQ(l2->decode({1, 22557, 1526, 2}, false).value(), "<s> Hello world</s>");
  EXPECT_EQ(l2->decode({1, 22557, 1526, 2}, true).value(), "Hello world");
}

TEST(RealTokenizers, DecodeOfEncodeIsTheText) {
  const std::vector<std::string> texts = {
      "Hello world",
      "  two leading spaces and trailing  ",
      "def f(x):\n    return x ** 2  # square\n\n\tindented\ttabs\r\n",
      "I'm sure you'll see they've DONE it, haven't they?",
      "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 e\xCC\x81",
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C "
      "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF",
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 "
      "\xE2\x9D\xA4\xEF\xB8\x8F",
      "3.14159 1,000,000 2024-01-01T00:00:00Z 0xDEADBEEF",
      "<0xE2> \xC4\xA0 not special <s",  // (a literal ▁ would decode as a space in Llama 2)
      kMixed,
      std::string(300, ' ') + "x" + std::string(40, '\n'),
  };
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer* t = test::real_tokenizer(name);
    ASSERT_NE(t, nullptr);
    for (const std::string& text : texts) {
      auto ids = t->encode(text, true);
      ASSERT_TRUE(ids.ok()) << ids.status().to_string();
      auto back = t->decode(*ids, /*skip_special_tokens=*/true);
      ASSERT_TRUE(back.ok()) << back.status().to_string();
      EXPECT_EQ(*back, text) << name;
    }
  }
}

TEST(RealTokenizers, RandomUtf8TextRoundTrips) {
  // Random code points from a spread of blocks (ASCII, Latin-1, Greek, CJK, emoji, supplementary ideographs).
  const char32_t blocks[][2] = {{0x20, 0x7E},     {0xA0, 0xFF},       {0x370, 0x3FF},
                                {0x4E00, 0x4FFF}, {0x1F600, 0x1F64F}, {0x20000, 0x2004F}};
  auto rng = test::make_rng(5);
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer* t = test::real_tokenizer(name);
    ASSERT_NE(t, nullptr);
    for (int i = 0; i < 200; ++i) {
      std::string text = "x";  // Llama 2's decode strips one leading space, so never start with one
      for (int n = static_cast<int>(rng() % 30); n > 0; --n) {
        const auto& b = blocks[rng() % std::size(blocks)];
        const char32_t c = b[0] + static_cast<char32_t>(rng() % (b[1] - b[0] + 1));
        utf8::append(text, c);
      }
      auto ids = t->encode(text, false);
      ASSERT_TRUE(ids.ok());
      EXPECT_EQ(t->decode(*ids, false).value(), text) << name << " seed " << test::run_seed();
    }
  }
}

TEST(RealTokenizers, ConcurrentEncodesAgreeWithOneThread) {
  // A loaded Tokenizer is shared by request threads: the regex scratch and word cache must not be shared.
  const Tokenizer* t = test::real_tokenizer("llama3");
  ASSERT_NE(t, nullptr);
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.push_back("Thread " + std::to_string(i) + ": the quick brown fox, \t  x" + kMixed);
  std::vector<Ids> want;
  for (const std::string& text : texts) want.push_back(t->encode(text, true).value());
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          auto ids = t->encode(texts[(i + w) % texts.size()], true);
          if (!ids.ok() || *ids != want[(i + w) % texts.size()]) ++mismatches[w];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace mixserve
