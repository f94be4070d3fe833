// The CPU's software conversions (core/float_convert.h) against the GPU's conversion instructions, bit for
// bit: every fp16/bf16/fp8 pattern widened, and narrowing of edge values plus a million random floats spread
// over all exponents.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/float_convert.h"
#include "kernels/cuda/common/convert.h"
#include "kernels/cuda/common/device_info.h"
#include "test_support.h"

namespace mixserve {
namespace {

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

TEST(CudaDevice, ReportsProperties) {
  auto info = cuda::query_device(0);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  std::printf("%s\n", cuda::to_string(*info).c_str());
  EXPECT_GT(info->sm_count, 0);
  EXPECT_GE(info->sm_major, 8);
}

TEST(CudaConvert, WideningMatchesEveryBitPattern) {
  auto gpu = cuda::widen_all_on_device();
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  for (uint32_t i = 0; i < 65536; ++i) {
    ASSERT_TRUE(same_float(fp16_bits_to_fp32(static_cast<uint16_t>(i)), gpu->from_fp16[i])) << "fp16 0x" << std::hex << i;
    ASSERT_TRUE(same_float(bf16_bits_to_fp32(static_cast<uint16_t>(i)), gpu->from_bf16[i])) << "bf16 0x" << std::hex << i;
  }
  for (uint32_t i = 0; i < 256; ++i)
    ASSERT_TRUE(same_float(fp8_e4m3_bits_to_fp32(static_cast<uint8_t>(i)), gpu->from_fp8_e4m3[i])) << "fp8 0x" << std::hex << i;
}

TEST(CudaConvert, NarrowingMatchesGpuBitForBit) {
  std::vector<float> input = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65520.0f, 65519.99f, 1e-8f, 5.96e-8f, 2.98e-8f,
                              448.0f, 464.0f, 480.0f, -1e9f, 1e-3f, 3.0e38f,
                              std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
  auto rng = test::make_rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 1000000; ++i) {
    float f = std::bit_cast<float>(bits(rng));
    if (std::isnan(f)) continue;  // NaN payloads are compared separately below
    input.push_back(f);
  }
  // Halfway points between neighbouring fp16 and bf16 values: the ties-to-even cases.
  for (uint32_t h = 0; h < 0x7c00; h += 7) {
    const float lo = fp16_bits_to_fp32(static_cast<uint16_t>(h));
    const float hi = fp16_bits_to_fp32(static_cast<uint16_t>(h + 1));
    input.push_back(0.5f * (lo + hi));
  }
  auto gpu = cuda::convert_on_device(input);
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  size_t fp16_bad = 0, bf16_bad = 0, fp8_bad = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    const bool f16 = fp32_to_fp16_bits(input[i]) != gpu->fp16[i];
    const bool b16 = fp32_to_bf16_bits(input[i]) != gpu->bf16[i];
    const bool f8 = fp32_to_fp8_e4m3_bits(input[i]) != gpu->fp8_e4m3[i];
    if ((f16 || b16 || f8) && fp16_bad + bf16_bad + fp8_bad < 5)
      ADD_FAILURE() << "input " << input[i] << " (0x" << std::hex << std::bit_cast<uint32_t>(input[i]) << ")"
                    << (f16 ? " fp16" : "") << (b16 ? " bf16" : "") << (f8 ? " fp8" : "");
    fp16_bad += f16;
    bf16_bad += b16;
    fp8_bad += f8;
  }
  EXPECT_EQ(fp16_bad, 0u);
  EXPECT_EQ(bf16_bad, 0u);
  EXPECT_EQ(fp8_bad, 0u);

  // NaN in, NaN out (payload bits may differ between implementations; NaN-ness may not).
  auto nan = cuda::convert_on_device({std::numeric_limits<float>::quiet_NaN()});
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(fp16_bits_to_fp32(nan->fp16[0])));
  EXPECT_TRUE(std::isnan(bf16_bits_to_fp32(nan->bf16[0])));
  EXPECT_TRUE(std::isnan(fp8_e4m3_bits_to_fp32(nan->fp8_e4m3[0])));
}

}  // namespace
}  // namespace mixserve
