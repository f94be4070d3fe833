#include "core/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "test_support.h"

namespace mixserve {
namespace {

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

// A safetensors file assembled by hand, for inputs the writer would never produce.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}

template <typename T>
void expect_error(const Result<T>& result, StatusCode code, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code) << result.status().to_string();
  for (const std::string& part : parts) {
    EXPECT_NE(result.status().message().find(part), std::string::npos)
        << "\"" << part << "\" not in: " << result.status().message();
  }
}

TEST(SafetensorsTest, WriterRoundTripsEveryDtypeShapeAndByte) {
  SCOPED_TRACE("seed " + std::to_string(test::run_seed()));
  auto rng = test::make_rng(1);
  test::TempDir dir;
  const std::string path = dir.file("t.safetensors");
  struct Case {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      {"f32.matrix", DType::f32, {3, 5}},      {"f16.vector", DType::f16, {7}},
      {"bf16.cube", DType::bf16, {2, 3, 4}},   {"fp8", DType::fp8_e4m3, {9, 2}},
      {"i8", DType::i8, {13}},                 {"u8", DType::u8, {1, 1, 1, 3}},
      {"i16", DType::i16, {4, 2}},             {"i32.scalar", DType::i32, {}},
      {"i64", DType::i64, {3}},                {"bool", DType::boolean, {6}},
      {"empty", DType::f32, {0, 4}},
  };
  SafetensorsWriter writer;
  std::vector<std::vector<uint8_t>> contents;
  for (const Case& c : cases) {
    int64_t numel = 1;
    for (int64_t d : c.shape) numel *= d;
    contents.push_back(random_bytes(dtype_bytes(c.dtype, static_cast<size_t>(numel)), rng));
    writer.add(c.name, c.dtype, c.shape, contents.back());
  }
  writer.set_metadata("format", "pt");
  writer.set_metadata("origin", "test");
  size_t total = 0;
  for (const auto& bytes : contents) total += bytes.size();
  EXPECT_EQ(writer.data_bytes(), total);
  ASSERT_TRUE(writer.write(path).ok());

  // Header length is a multiple of 8 so the data section stays aligned.
  const std::string raw = test::read_file(path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(header_len % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + header_len + total);

  Result<SafetensorsFile> opened = SafetensorsFile::open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  SafetensorsFile file = std::move(opened).value();  // moving keeps the mapping valid
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.tensors().size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const TensorInfo* info = file.find(cases[i].name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, cases[i].dtype);
    EXPECT_EQ(info->shape, cases[i].shape);
    const auto bytes = file.bytes(*info);
    ASSERT_EQ(bytes.size(), contents[i].size());
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), contents[i].begin()));
  }
  EXPECT_EQ(file.find("i32.scalar")->numel(), 1);
  EXPECT_EQ(file.find("empty")->numel(), 0);
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("origin"), "test");
}

TEST(SafetensorsTest, ShapeToString) {
  EXPECT_EQ(shape_to_string({4096, 128}), "[4096, 128]");
  EXPECT_EQ(shape_to_string({}), "[]");
  EXPECT_EQ(shape_to_string({7}), "[7]");
}

TEST(SafetensorsTest, SingleFileCheckpoint) {
  test::TempDir dir;
  SafetensorsWriter writer;
  writer.add("a", DType::bf16, {2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(writer.write(dir.file("model.safetensors")).ok());
  Result<Checkpoint> ckpt = Checkpoint::open(dir.path());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  EXPECT_EQ(ckpt->dir(), dir.path());
  EXPECT_TRUE(ckpt->contains("a"));
  EXPECT_FALSE(ckpt->contains("b"));
  Result<TensorRef> a = ckpt->tensor("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a->file, dir.file("model.safetensors"));
  EXPECT_EQ(a->bytes[7], 8);
  expect_error(ckpt->tensor("b"), StatusCode::not_found, {"\"b\"", dir.path()});
}

// Two shards and an index, as HF writes them.
void write_sharded(const test::TempDir& dir, const std::string& index) {
  SafetensorsWriter first;
  first.add("model.embed_tokens.weight", DType::f32, {4, 2}, std::vector<uint8_t>(32, 1));
  first.add("model.norm.weight", DType::f32, {2}, std::vector<uint8_t>(8, 2));
  ASSERT_TRUE(first.write(dir.file("model-00001-of-00002.safetensors")).ok());
  SafetensorsWriter second;
  second.add("lm_head.weight", DType::f16, {4, 2}, std::vector<uint8_t>(16, 3));
  ASSERT_TRUE(second.write(dir.file("model-00002-of-00002.safetensors")).ok());
  test::write_file(dir.file("model.safetensors.index.json"), index);
}

const char* kIndex = R"({"metadata": {"total_size": 56}, "weight_map": {
  "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
  "model.norm.weight": "model-00001-of-00002.safetensors",
  "lm_head.weight": "model-00002-of-00002.safetensors"}})";

TEST(SafetensorsTest, ShardedCheckpointThroughIndex) {
  test::TempDir dir;
  write_sharded(dir, kIndex);
  Result<Checkpoint> ckpt = Checkpoint::open(dir.path());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().to_string();
  EXPECT_EQ(ckpt->tensor_names(),
            (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}));
  Result<TensorRef> head = ckpt->tensor_with_shape("lm_head.weight", {4, 2});
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  EXPECT_EQ(*head->file, dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(head->info->dtype, DType::f16);
  ASSERT_EQ(head->bytes.size(), 16u);
  EXPECT_EQ(head->bytes[0], 3);
  Result<TensorRef> norm = ckpt->tensor("model.norm.weight");
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(*norm->file, dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(norm->bytes[5], 2);
  expect_error(ckpt->tensor_with_shape("lm_head.weight", {2, 4}), StatusCode::invalid_argument,
               {"model-00002-of-00002.safetensors", "lm_head.weight", "[4, 2]", "[2, 4]"});
}

TEST(SafetensorsTest, CheckpointErrors) {
  {
    test::TempDir dir;
    expect_error(Checkpoint::open(dir.path()), StatusCode::not_found, {dir.path(), "model.safetensors"});
  }
  {
    test::TempDir dir;
    write_sharded(dir, kIndex);
    std::filesystem::remove(dir.file("model-00002-of-00002.safetensors"));
    expect_error(Checkpoint::open(dir.path()), StatusCode::not_found,
                 {"model-00002-of-00002.safetensors", "lm_head.weight", "index.json"});
  }
  {
    test::TempDir dir;
    write_sharded(dir, R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors",
                                          "ghost.weight": "model-00002-of-00002.safetensors"}})");
    expect_error(Checkpoint::open(dir.path()), StatusCode::invalid_argument,
                 {"ghost.weight", "model-00002-of-00002.safetensors", "does not hold"});
  }
  {
    test::TempDir dir;
    write_sharded(dir, R"({"metadata": {}})");
    expect_error(Checkpoint::open(dir.path()), StatusCode::invalid_argument, {"index.json", "weight_map"});
  }
}

// Writes `contents` to a file and expects open() to fail with a message naming the file and `parts`.
void expect_corrupt(const std::string& contents, StatusCode code, std::initializer_list<std::string> parts) {
  test::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  test::write_file(path, contents);
  Result<SafetensorsFile> file = SafetensorsFile::open(path);
  expect_error(file, code, {path});
  expect_error(file, code, parts);
}

TEST(SafetensorsTest, RejectsCorruptFiles) {
  const std::string f32x2 = R"("dtype":"F32","shape":[2])";
  expect_corrupt("", StatusCode::invalid_argument, {"0 bytes"});
  expect_corrupt("abcde", StatusCode::invalid_argument, {"5 bytes"});
  std::string huge(8, '\xff');
  expect_corrupt(huge + "{}", StatusCode::invalid_argument, {"header length"});
  expect_corrupt(raw_file("{}", "").substr(0, 9), StatusCode::invalid_argument, {"header length"});
  expect_corrupt(raw_file("{\"t\": [1, 2", ""), StatusCode::invalid_argument, {"not valid JSON"});
  expect_corrupt(raw_file("[1, 2]", ""), StatusCode::invalid_argument, {"not a JSON object"});
  expect_corrupt(raw_file(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", "x"),
                 StatusCode::unsupported, {"\"w\"", "F4"});
  expect_corrupt(raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, 'x')),
                 StatusCode::invalid_argument, {"\"w\"", "shape"});
  expect_corrupt(raw_file(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", std::string(8, 'x')),
                 StatusCode::invalid_argument, {"\"w\"", "shape"});
  expect_corrupt(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, 'x')),
                 StatusCode::invalid_argument, {"\"w\"", "[3]", "12"});
  expect_corrupt(raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, 'x')),
                 StatusCode::invalid_argument, {"\"w\"", "data_offsets"});
  expect_corrupt(raw_file(R"({"w":{)" + f32x2 + "}}", std::string(8, 'x')), StatusCode::invalid_argument,
                 {"\"w\"", "data_offsets"});
  expect_corrupt(raw_file(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                              R"(,"data_offsets":[4,12]}})",
                          std::string(12, 'x')),
                 StatusCode::invalid_argument, {"\"b\"", "overlap", "\"a\""});
  expect_corrupt(raw_file(R"({"__metadata__":{"k":1}})", ""), StatusCode::invalid_argument, {"__metadata__", "k"});
  expect_corrupt(raw_file(R"({"__metadata__":[]})", ""), StatusCode::invalid_argument, {"__metadata__"});
}

TEST(SafetensorsTest, TruncatedFileNamesTensorPastTheEnd) {
  test::TempDir dir;
  const std::string path = dir.file("t.safetensors");
  SafetensorsWriter writer;
  writer.add("first", DType::u8, {16}, std::vector<uint8_t>(16, 7));
  writer.add("second", DType::u8, {16}, std::vector<uint8_t>(16, 9));
  ASSERT_TRUE(writer.write(path).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 5);
  expect_error(SafetensorsFile::open(path), StatusCode::invalid_argument, {path, "\"second\"", "truncated"});
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  test::TempDir dir;
  expect_error(SafetensorsFile::open(dir.file("nope.safetensors")), StatusCode::not_found, {"nope.safetensors"});
  expect_error(SafetensorsFile::open(dir.path()), StatusCode::invalid_argument, {dir.path(), "regular file"});
}

TEST(SafetensorsTest, EmptyTensorsMayShareAnOffset) {
  // Zero-byte tensors occupy no bytes; the reference writer places them at the running offset.
  test::TempDir dir;
  const std::string path = dir.file("t.safetensors");
  SafetensorsWriter writer;
  writer.add("a", DType::u8, {0}, {});
  writer.add("b", DType::u8, {2}, {1, 2});
  writer.add("c", DType::f32, {0, 3}, {});
  ASSERT_TRUE(writer.write(path).ok());
  Result<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->bytes(*file->find("a")).size(), 0u);
  EXPECT_EQ(file->bytes(*file->find("b"))[1], 2);
}

}  // namespace
}  // namespace mixserve
