// AWQ and GPTQ loaders against files written by tools/reference/awq_gptq_pack.py (tests/data/quant/), which
// also stores the plain q, zeros and scales: loading must give exactly those, and packing the result for the
// GPU must dequantize to the same weights.
#include <gtest/gtest.h>

#include <cstring>

#include "core/float_convert.h"
#include "kernels/formats/awq_gptq.h"
#include "kernels/formats/packed_weight.h"

namespace mixserve {
namespace {

std::string data_file(const std::string& name) { return std::string(MIXSERVE_TEST_DATA) + "/quant/" + name; }

// The expected weight from the file's ref.* tensors.
std::vector<float> reference_weights(const SafetensorsFile& f) {
  const TensorInfo* q = f.find("ref.q");
  const TensorInfo* z = f.find("ref.zeros");
  const TensorInfo* s = f.find("ref.scales");
  const int64_t n = q->shape[0], k = q->shape[1], groups = z->shape[1], g_size = k / groups;
  const auto qb = f.bytes(*q), zb = f.bytes(*z), sb = f.bytes(*s);
  std::vector<float> w(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      uint16_t bits;
      std::memcpy(&bits, sb.data() + 2 * (r * groups + c / g_size), 2);
      w[r * k + c] = (static_cast<float>(qb[r * k + c]) - zb[r * groups + c / g_size]) * fp16_bits_to_fp32(bits);
    }
  return w;
}

void check_file(const std::string& name, bool awq) {
  auto file = SafetensorsFile::open(data_file(name));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto w = awq ? load_awq_int4(lookup_in(*file), "layer") : load_gptq_int4(lookup_in(*file), "layer");
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const std::vector<float> expected = reference_weights(*file);
  EXPECT_EQ(dequantize(*w), expected) << name;
  auto packed = pack_for_tensor_cores(*w);
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(dequantize(*packed), expected) << name;
}

TEST(PackedAwqGptq, AwqLoadsTheDefinedWeights) {
  check_file("awq_g64.safetensors", true);
  check_file("awq_g128.safetensors", true);
}

TEST(PackedAwqGptq, GptqLoadsTheDefinedWeights) {
  check_file("gptq_g64.safetensors", false);
  check_file("gptq_g128.safetensors", false);
}

TEST(PackedAwqGptq, GptqActOrderIsRejectedClearly) {
  auto file = SafetensorsFile::open(data_file("gptq_actorder.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto w = load_gptq_int4(lookup_in(*file), "layer");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(w.status().message().find("act-order"), std::string::npos) << w.status().message();
}

TEST(PackedAwqGptq, WrongLayoutIsRejected) {
  // An AWQ file read as GPTQ: the shapes do not fit (K comes out 8x too large), and the message names the layer.
  auto file = SafetensorsFile::open(data_file("awq_g128.safetensors"));
  ASSERT_TRUE(file.ok());
  auto w = load_gptq_int4(lookup_in(*file), "layer");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("layer"), std::string::npos) << w.status().message();
}

}  // namespace
}  // namespace mixserve
