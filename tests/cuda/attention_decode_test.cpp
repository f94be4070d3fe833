// Split-KV decode against the CPU reference: every K x V format pair, group sizes 1..16, lengths around the
// block and stage boundaries up to 32k, mixed batches, and bit-identical repeats.
#include <gtest/gtest.h>

#include "attention_test_support.h"

namespace mixserve {
namespace {

using test::AttnCase;
using test::PagedCase;
using test::SeqSpec;

// Decode sequences of the given KV lengths: the new token is the last position.
std::vector<SeqSpec> decode_seqs(std::initializer_list<int> kv_lens) {
  std::vector<SeqSpec> s;
  for (int len : kv_lens) s.push_back({len - 1, 1});
  return s;
}

void check_decode(const AttnCase& c, uint64_t salt, bool check_repeat) {
  SCOPED_TRACE(test::describe(c));
  auto rng = test::make_rng(salt);
  PagedCase pc;
  pc.build(c, rng);
  const std::vector<float> ref = pc.cpu_reference();
  auto out = pc.gpu(/*decode=*/true, test::sm_count());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  test::expect_matches(*out, ref, "decode");
  if (check_repeat) {
    auto again = pc.gpu(true, test::sm_count());
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(0, std::memcmp(out->data(), again->data(), out->size() * sizeof(float))) << "not deterministic";
  }
}

TEST(CudaAttentionDecode, EveryFormatPairMixedBatch) {
  constexpr int kGroups[] = {1, 2, 4, 5, 7, 8, 16};
  int i = 0;
  for (KvFormat kf : test::kGpuFormats) {
    for (KvFormat vf : test::kGpuFormats) {
      const AttnCase c{.n_kv_heads = 2, .group = kGroups[i % 7], .head_dim = i % 2 ? 64 : 128, .k_format = kf,
                       .v_format = vf, .seqs = decode_seqs({1, 63, 64, 65, 300, 1000})};
      check_decode(c, 100 + i, /*check_repeat=*/i % 5 == 0);
      ++i;
    }
  }
}

TEST(CudaAttentionDecode, GroupSizes) {
  for (int group : {1, 2, 4, 5, 7, 8, 16}) {
    for (auto [kf, vf] : {std::pair{KvFormat::f16, KvFormat::f16}, std::pair{KvFormat::int4, KvFormat::int8}}) {
      const AttnCase c{.n_kv_heads = 3, .group = group, .head_dim = 128, .k_format = kf, .v_format = vf,
                       .seqs = decode_seqs({129, 2000, 17})};
      check_decode(c, 200 + group, false);
    }
  }
}

TEST(CudaAttentionDecode, SmallBlocks) {
  for (int bs : {16, 32, 128}) {
    const AttnCase c{.n_kv_heads = 2, .group = 4, .head_dim = 128, .block_size = bs, .k_format = KvFormat::int8,
                     .v_format = KvFormat::fp8_e4m3, .seqs = decode_seqs({bs - 1, bs, bs + 1, 777})};
    check_decode(c, 300 + bs, false);
  }
}

TEST(CudaAttentionDecode, LongContext) {
  for (auto [kf, vf] : {std::pair{KvFormat::f16, KvFormat::f16}, std::pair{KvFormat::int8, KvFormat::int8},
                        std::pair{KvFormat::int4, KvFormat::int4}, std::pair{KvFormat::fp8_e4m3, KvFormat::bf16}}) {
    const AttnCase c{.n_kv_heads = 8, .group = 4, .head_dim = 128, .k_format = kf, .v_format = vf,
                     .seqs = decode_seqs({32768, 4097, 1})};
    check_decode(c, 400 + static_cast<int>(kf) * 8 + static_cast<int>(vf), true);
  }
}

TEST(CudaAttentionDecode, RejectsUnsupportedCombinations) {
  auto rng = test::make_rng(500);
  PagedCase pc;
  pc.build({.n_kv_heads = 1, .group = 2, .head_dim = 128, .seqs = decode_seqs({10})}, rng);
  pc.k.layout.format = KvFormat::f32;  // CPU-only format
  auto out = pc.gpu(true, test::sm_count());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().to_string().find("fp32"), std::string::npos) << out.status().to_string();
  pc.k.layout.format = KvFormat::f16;
  pc.k.layout.head_dim = pc.v.layout.head_dim = 96;
  out = pc.gpu(true, test::sm_count());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().to_string().find("head_dim 96"), std::string::npos) << out.status().to_string();
}

}  // namespace
}  // namespace mixserve
