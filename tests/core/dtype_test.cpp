#include "core/dtype.h"

#include <gtest/gtest.h>

#include <string>

namespace mixserve {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::fp8_e4m3, DType::i8,     DType::u8,
                          DType::i16, DType::i32, DType::i64,  DType::boolean,  DType::u4};

TEST(DTypeTest, BitsAndBytes) {
  EXPECT_EQ(dtype_bits(DType::f32), 32);
  EXPECT_EQ(dtype_bits(DType::f16), 16);
  EXPECT_EQ(dtype_bits(DType::bf16), 16);
  EXPECT_EQ(dtype_bits(DType::fp8_e4m3), 8);
  EXPECT_EQ(dtype_bits(DType::i8), 8);
  EXPECT_EQ(dtype_bits(DType::u8), 8);
  EXPECT_EQ(dtype_bits(DType::i16), 16);
  EXPECT_EQ(dtype_bits(DType::i32), 32);
  EXPECT_EQ(dtype_bits(DType::i64), 64);
  EXPECT_EQ(dtype_bits(DType::boolean), 8);
  EXPECT_EQ(dtype_bits(DType::u4), 4);

  EXPECT_EQ(dtype_bytes(DType::f32, 10), 40u);
  EXPECT_EQ(dtype_bytes(DType::bf16, 3), 6u);
  EXPECT_EQ(dtype_bytes(DType::i64, 2), 16u);
  EXPECT_EQ(dtype_bytes(DType::boolean, 5), 5u);
  EXPECT_EQ(dtype_bytes(DType::f16, 0), 0u);
  // Packed 4-bit rounds up to whole bytes.
  EXPECT_EQ(dtype_bytes(DType::u4, 0), 0u);
  EXPECT_EQ(dtype_bytes(DType::u4, 1), 1u);
  EXPECT_EQ(dtype_bytes(DType::u4, 2), 1u);
  EXPECT_EQ(dtype_bytes(DType::u4, 7), 4u);
  EXPECT_EQ(dtype_bytes(DType::u4, 4096), 2048u);
}

TEST(DTypeTest, NamesAreDistinct) {
  for (DType a : kAll) {
    for (DType b : kAll) {
      if (a != b) {
        EXPECT_STRNE(dtype_name(a), dtype_name(b));
      }
    }
  }
  EXPECT_STREQ(dtype_name(DType::bf16), "bf16");
  EXPECT_STREQ(dtype_name(DType::fp8_e4m3), "fp8_e4m3");
}

TEST(DTypeTest, SafetensorsNamesRoundTrip) {
  for (DType dtype : kAll) {
    if (dtype == DType::u4) continue;  // no safetensors name: stored as U8 bytes
    const char* name = dtype_to_safetensors(dtype);
    Result<DType> back = dtype_from_safetensors(name);
    ASSERT_TRUE(back.ok()) << name;
    EXPECT_EQ(back.value(), dtype) << name;
  }
  EXPECT_STREQ(dtype_to_safetensors(DType::bf16), "BF16");
  EXPECT_STREQ(dtype_to_safetensors(DType::fp8_e4m3), "F8_E4M3");
  EXPECT_STREQ(dtype_to_safetensors(DType::boolean), "BOOL");
}

TEST(DTypeTest, UnknownSafetensorsNameIsUnsupported) {
  for (const char* name : {"F64", "F8_E5M2", "bf16", "", "U4"}) {
    Result<DType> dtype = dtype_from_safetensors(name);
    ASSERT_FALSE(dtype.ok()) << name;
    EXPECT_EQ(dtype.status().code(), StatusCode::unsupported);
    EXPECT_NE(dtype.status().message().find("\"" + std::string(name) + "\""), std::string::npos);
  }
}

TEST(DTypeDeathTest, U4HasNoSafetensorsName) {
  EXPECT_DEATH(dtype_to_safetensors(DType::u4), "u4");
}

}  // namespace
}  // namespace mixserve
