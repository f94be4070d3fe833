// Bad checkpoints give one-line errors that name the file and the tensor, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/safetensors.h"
#include "synth_model.h"
#include "test_support.h"
#include "worker/engine.h"

namespace mixserve {
namespace {

namespace fs = std::filesystem;

Status load_status(const std::string& dir) {
  LocalCommunicator comm;
  ThreadPool pool(1);
  return Engine::load(dir, EngineOptions{.kv_tokens = 64}, comm, pool).status();
}

// A copy of the tiny checkpoint that tests may damage.
std::string copy_of_tiny(const test::TempDir& tmp) {
  fs::copy(test::synth_model_dir("tiny", 7), tmp.path(), fs::copy_options::recursive);
  return tmp.path();
}

TEST(LoadErrors, MissingDirectoryNamesIt) {
  const Status s = load_status("/nonexistent/model");
  EXPECT_EQ(s.code(), StatusCode::not_found) << s.to_string();
  EXPECT_NE(s.message().find("/nonexistent/model"), std::string::npos);
}

TEST(LoadErrors, TruncatedSafetensorsNamesTheFile) {
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  const std::string file = dir + "/model.safetensors";
  fs::resize_file(file, fs::file_size(file) / 2);
  const Status s = load_status(dir);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.message();
}

TEST(LoadErrors, CorruptHeaderNamesTheFile) {
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  {
    std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("#garbage", 8);
  }
  const Status s = load_status(dir);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.message();
}

TEST(LoadErrors, WrongShapeNamesFileAndTensor) {
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  // Rewrite the checkpoint with one tensor transposed.
  std::string bad = "model.layers.1.mlp.down_proj.weight";
  SafetensorsWriter writer;
  {
    auto file = SafetensorsFile::open(dir + "/model.safetensors");
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    for (const TensorInfo& t : file->tensors()) {
      auto bytes = file->bytes(t);
      auto shape = t.shape;
      if (t.name == bad) std::swap(shape[0], shape[1]);
      writer.add(t.name, t.dtype, shape, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    }
  }
  ASSERT_TRUE(writer.write(dir + "/model.safetensors").ok());
  const Status s = load_status(dir);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(bad), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.message();
}

TEST(LoadErrors, MissingTensorNamesIt) {
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  SafetensorsWriter writer;
  {
    auto file = SafetensorsFile::open(dir + "/model.safetensors");
    ASSERT_TRUE(file.ok());
    for (const TensorInfo& t : file->tensors()) {
      if (t.name == "model.norm.weight") continue;
      auto bytes = file->bytes(t);
      writer.add(t.name, t.dtype, t.shape, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    }
  }
  ASSERT_TRUE(writer.write(dir + "/model.safetensors").ok());
  const Status s = load_status(dir);
  EXPECT_EQ(s.code(), StatusCode::not_found) << s.to_string();
  EXPECT_NE(s.message().find("model.norm.weight"), std::string::npos) << s.message();
}

TEST(LoadErrors, UnsupportedArchitectureAndMalformedConfig) {
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  std::string config = test::read_file(dir + "/config.json");
  const auto pos = config.find("LlamaForCausalLM");
  ASSERT_NE(pos, std::string::npos);
  test::write_file(dir + "/config.json", config.substr(0, pos) + "GPT2LMHeadModel" + config.substr(pos + 16));
  Status s = load_status(dir);
  EXPECT_EQ(s.code(), StatusCode::unsupported) << s.to_string();
  EXPECT_NE(s.message().find("GPT2LMHeadModel"), std::string::npos) << s.message();
  test::write_file(dir + "/config.json", "{\"architectures\": [\"LlamaForCausalLM\"], ");
  s = load_status(dir);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("config.json"), std::string::npos) << s.message();
}

// The CLI turns each of these into one line on stderr and a non-zero exit.
TEST(LoadErrors, GenerateCliPrintsOneLineAndFails) {
  if (!fs::exists(MIXSERVE_BINARY)) GTEST_SKIP() << "mixserve binary not built";
  test::TempDir tmp;
  const std::string dir = copy_of_tiny(tmp);
  fs::resize_file(dir + "/model.safetensors", 100);
  std::string out;
  const int rc = test::run_command(std::string(MIXSERVE_BINARY) + " generate --model " + dir + " --prompt-ids 1,2", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("model.safetensors"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  const int rc2 = test::run_command(std::string(MIXSERVE_BINARY) + " generate --model " + dir + " --prompt-ids 1,x", &out);
  EXPECT_NE(rc2, 0);
  EXPECT_NE(out.find("'x'"), std::string::npos) << out;
}

}  // namespace
}  // namespace mixserve
