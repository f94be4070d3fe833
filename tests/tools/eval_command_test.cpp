// `mixserve eval` end to end on the committed default model: the table, the JSON rows, and the refusals.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace mixserve {
namespace {

const std::string kModel = std::string(MIXSERVE_SOURCE_DIR) + "/models/mixserve-tiny-en";
const std::string kHeldout = std::string(MIXSERVE_TEST_DATA) + "/eval/heldout.txt";

int run_eval(const std::string& args, std::string* output) {
  return test::run_command(std::string(MIXSERVE_BINARY) + " eval --model " + kModel + " --data " + kHeldout + " " +
                               args + " 2>&1",
                           output);
}

TEST(EvalCommand, WritesATableAndJsonRowsPerMix) {
  test::TempDir dir;
  std::string out;
  ASSERT_EQ(run_eval("--runs bf16:fp16/fp16,int4-g64:int8/int4 --max-tokens 300 --context 128 --json " +
                         dir.file("rows.json"),
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("| int4-g64  | int8 | int4 |"), std::string::npos) << out;
  const auto rows = nlohmann::json::parse(test::read_file(dir.file("rows.json")));
  EXPECT_EQ(rows["tokens"], 300);
  EXPECT_EQ(rows["context"], 128);
  EXPECT_EQ(rows["stride"], 128);
  ASSERT_EQ(rows["rows"].size(), 2u);
  for (const auto& row : rows["rows"]) {
    EXPECT_EQ(row["scored_tokens"], 297);  // windows at 0, 128, 256 do not score their first token
    const double ppl = row["perplexity"];
    EXPECT_GT(ppl, 1.0);
    EXPECT_LT(ppl, 1000.0);  // a trained model: far below the 32000 of a uniform guess
  }
  EXPECT_EQ(rows["rows"][1]["weights"], "int4-g64");
  EXPECT_EQ(rows["rows"][1]["v_cache"], "int4");
}

TEST(EvalCommand, CrossProductOfWeightsAndKv) {
  std::string out;
  ASSERT_EQ(run_eval("--weights bf16,int8 --kv fp16/fp16,int8/int8 --max-tokens 64 --context 64", &out), 0) << out;
  for (const char* row : {"| bf16      | fp16 | fp16 |", "| bf16      | int8 | int8 |", "| int8      | fp16 | fp16 |",
                          "| int8      | int8 | int8 |"})
    EXPECT_NE(out.find(row), std::string::npos) << row << "\n" << out;
}

TEST(EvalCommand, RefusesWhatIsNotBuiltOrDoesNotFit) {
  std::string out;
  EXPECT_NE(run_eval("--runs fp6:fp16/fp16", &out), 0);
  EXPECT_NE(out.find("unknown weight format 'fp6'"), std::string::npos) << out;
  EXPECT_NE(run_eval("--runs int4-g48:fp16/fp16", &out), 0);
  EXPECT_NE(out.find("int4 groups are 32, 64 or 128"), std::string::npos) << out;
  EXPECT_NE(run_eval("--runs bf16:fp16", &out), 0);
  EXPECT_NE(out.find("K/V"), std::string::npos) << out;
  EXPECT_NE(run_eval("--context 4096", &out), 0);  // the model holds 1024 positions
  EXPECT_NE(out.find("max_position_embeddings"), std::string::npos) << out;
}

}  // namespace
}  // namespace mixserve
