// Streaming detokenization on the real tokenizers: what is emitted piece by piece equals decode of all ids,
// every piece is valid UTF-8, and stop strings (also across tokens) end the stream without being shown.
#include "coordinator/tokenizer/incremental_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "coordinator/tokenizer/unicode.h"
#include "real_tokenizers.h"
#include "test_support.h"

namespace mixserve {
namespace {

using Ids = std::vector<int32_t>;

struct Streamed {
  std::string text;
  std::vector<std::string> pieces;
  bool stopped = false;
};

Streamed stream(const Tokenizer& t, const Ids& ids, bool skip_special, std::vector<std::string> stops = {},
                const Ids& context = {}) {
  IncrementalDecoder decoder(t, skip_special, std::move(stops), context);
  Streamed out;
  for (const int32_t id : ids) {
    auto piece = decoder.push(id);
    EXPECT_TRUE(piece.ok()) << piece.status().to_string();
    if (!piece.ok()) return out;
    out.pieces.push_back(*piece);
    if (decoder.stopped()) break;
  }
  out.pieces.push_back(decoder.flush());
  out.stopped = decoder.stopped();
  for (const std::string& p : out.pieces) out.text += p;
  return out;
}

// Ids a model might produce: ordinary tokens, special tokens, byte tokens (Llama 2) and the pieces of
// multi-byte characters, in random order.
Ids random_ids(const Tokenizer& t, std::mt19937_64& rng) {
  static const std::vector<std::string> snippets = {"\xE2\x82\xAC",
                                                    "\xF0\x9F\x98\x80",
                                                    "\xE4\xBD\xA0\xE5\xA5\xBD",
                                                    "\xF0\xA0\x80\x8B",
                                                    " caf\xC3\xA9",
                                                    " the",
                                                    "\n\n",
                                                    "  "};
  Ids ids;
  const int n = 1 + static_cast<int>(rng() % 40);
  while (static_cast<int>(ids.size()) < n) {
    switch (rng() % 5) {
      case 0: {
        const Ids piece = t.encode(snippets[rng() % snippets.size()], false).value();
        ids.insert(ids.end(), piece.begin(), piece.end());
        break;
      }
      case 1:
        ids.push_back(t.bos_id());
        break;
      case 2:
        ids.push_back(static_cast<int32_t>(3 + rng() % 256));  // Llama 2: <0xXX>; Llama 3: punctuation bytes
        break;
      default:
        ids.push_back(static_cast<int32_t>(rng() % t.vocab_size()));
    }
  }
  return ids;
}

TEST(IncrementalDecoder, EmittedTextIsTheDecodeOfAllIdsInValidPieces) {
  auto rng = test::make_rng(6);
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer* t = test::real_tokenizer(name);
    ASSERT_NE(t, nullptr);
    for (int trial = 0; trial < 400; ++trial) {
      const Ids ids = random_ids(*t, rng);
      for (const bool skip : {false, true}) {
        const Streamed s = stream(*t, ids, skip);
        ASSERT_EQ(s.text, t->decode(ids, skip).value())
            << name << " trial " << trial << " skip " << skip << " seed " << test::run_seed();
        for (const std::string& p : s.pieces) ASSERT_TRUE(utf8::is_valid(p)) << name << " trial " << trial;
      }
    }
  }
}

// After a prompt, output reads as HF decodes prompt + output minus the prompt: Llama 2's Strip removes the space
// of a text's first "▁word" only, so " to" after "... is" keeps its space. vLLM shows it the same way.
TEST(IncrementalDecoder, OutputAfterAPromptKeepsItsLeadingSpace) {
  const Tokenizer* t = test::real_tokenizer("llama2");
  ASSERT_NE(t, nullptr);
  const Ids prompt = t->encode("The best way to learn a language is", true).value();
  const Ids output = t->encode("to write it", false).value();  // "▁to", "▁write", "▁it"
  EXPECT_EQ(stream(*t, output, true).text, "to write it");   // no context: the start of a text
  EXPECT_EQ(stream(*t, output, true, {}, prompt).text, " to write it");
  // In general: decode(prompt tail + output) minus decode(prompt tail), for random outputs on both tokenizers.
  auto rng = test::make_rng(61);
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer* tk = test::real_tokenizer(name);
    ASSERT_NE(tk, nullptr);
    const Ids context = tk->encode("Once upon a time, the answer was", true).value();
    const Ids tail(context.end() - 5, context.end());
    for (int trial = 0; trial < 200; ++trial) {
      Ids ids = random_ids(*tk, rng);
      Ids both = tail;
      both.insert(both.end(), ids.begin(), ids.end());
      const std::string whole = tk->decode(both, true).value(), head = tk->decode(tail, true).value();
      ASSERT_TRUE(whole.starts_with(head)) << name << " trial " << trial;
      EXPECT_EQ(stream(*tk, ids, true, {}, context).text, whole.substr(head.size())) << name << " trial " << trial;
    }
  }
}

TEST(IncrementalDecoder, HoldsBytesOfACharacterUntilItIsComplete) {
  const Tokenizer* t = test::real_tokenizer("llama2");
  ASSERT_NE(t, nullptr);
  // "a①b": ▁a, then ① as the byte tokens <0xE2> <0x91> <0xA0>, then b.
  const Ids ids = t->encode(
                       "a\xE2\x91\xA0"
                       "b",
                       false)
                      .value();
  ASSERT_GE(ids.size(), 5u);
  const Streamed s = stream(*t, ids, false);
  EXPECT_EQ(s.text,
            "a\xE2\x91\xA0"
            "b");
  for (const std::string& p : s.pieces) {
    EXPECT_EQ(p.find("\xEF\xBF\xBD"), std::string::npos) << "a replacement character was emitted: " << p;
  }
}

TEST(IncrementalDecoder, StopStringAcrossTokensIsNotEmitted) {
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer* t = test::real_tokenizer(name);
    ASSERT_NE(t, nullptr);
    const std::string text = "The answer is 42. STOP here, please.";
    const Ids ids = t->encode(text, false).value();
    const std::string full = t->decode(ids, false).value();
    for (const std::string stop : {"STOP", "42. ST", "is 4", "please."}) {
      const Streamed s = stream(*t, ids, false, {"never there", stop});
      EXPECT_TRUE(s.stopped) << name << " " << stop;
      EXPECT_EQ(s.text, full.substr(0, full.find(stop))) << name << " " << stop;
    }
    // A prefix of a stop string that never completes is emitted in the end.
    const Streamed partial = stream(*t, ids, false, {"STOPPED"});
    EXPECT_FALSE(partial.stopped);
    EXPECT_EQ(partial.text, full);
  }
}

TEST(IncrementalDecoder, RandomStopStringsCutAtTheirFirstOccurrence) {
  auto rng = test::make_rng(7);
  const Tokenizer* t = test::real_tokenizer("llama3");
  ASSERT_NE(t, nullptr);
  const std::string text =
      "Once upon a time, a fox met a crow. The crow had cheese; the fox wanted it. \xE2\x80\x9CSing!\xE2\x80\x9D said "
      "the fox.";
  const Ids ids = t->encode(text, false).value();
  for (int trial = 0; trial < 200; ++trial) {
    const size_t start = rng() % (text.size() - 1);
    std::string stop = text.substr(start, 1 + rng() % 6);
    if (!utf8::is_valid(stop)) continue;
    const Streamed s = stream(*t, ids, false, {stop});
    EXPECT_TRUE(s.stopped) << stop;
    EXPECT_EQ(s.text, text.substr(0, text.find(stop))) << "stop '" << stop << "'";
  }
}

TEST(IncrementalDecoder, IdOutsideTheVocabularyIsAnErrorAndLeavesTheStreamIntact) {
  const Tokenizer* t = test::real_tokenizer("llama3");
  ASSERT_NE(t, nullptr);
  IncrementalDecoder decoder(*t, false);
  std::string text = decoder.push(9906).value();
  auto bad = decoder.push(static_cast<int32_t>(t->vocab_size()));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::out_of_range);
  text += decoder.push(1917).value();
  text += decoder.flush();
  EXPECT_EQ(text, "Hello world");
}

}  // namespace
}  // namespace mixserve
