// Causal paged prefill against the CPU reference: every K x V pair, chunked prefill over cached context,
// group sizes 1..16, head_dim 64 and 128, repeat determinism.
#include <gtest/gtest.h>

#include "attention_test_support.h"

namespace mixserve {
namespace {

using test::AttnCase;
using test::PagedCase;

void check_prefill(const AttnCase& c, uint64_t salt, bool check_repeat) {
  SCOPED_TRACE(test::describe(c));
  auto rng = test::make_rng(salt);
  PagedCase pc;
  pc.build(c, rng);
  const std::vector<float> ref = pc.cpu_reference();
  auto out = pc.gpu(/*decode=*/false, test::sm_count());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  test::expect_matches(*out, ref, "prefill");
  if (check_repeat) {
    auto again = pc.gpu(false, test::sm_count());
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(0, std::memcmp(out->data(), again->data(), out->size() * sizeof(float))) << "not deterministic";
  }
}

TEST(CudaAttentionPrefill, EveryFormatPairMixedBatch) {
  constexpr int kGroups[] = {1, 2, 4, 5, 7, 8, 16};
  int i = 0;
  for (KvFormat kf : test::kGpuFormats) {
    for (KvFormat vf : test::kGpuFormats) {
      // Fresh prompts of 1, 63, 65 tokens; a chunk of 37 after 100 cached positions; a chunk of 64 after 64.
      const AttnCase c{.n_kv_heads = 2, .group = kGroups[i % 7], .head_dim = i % 2 ? 64 : 128, .k_format = kf,
                       .v_format = vf, .seqs = {{0, 1}, {0, 63}, {0, 65}, {100, 37}, {64, 64}}};
      check_prefill(c, 600 + i, i % 5 == 0);
      ++i;
    }
  }
}

TEST(CudaAttentionPrefill, GroupSizesAndChunks) {
  for (int group : {1, 2, 4, 5, 7, 8, 16}) {
    const AttnCase c{.n_kv_heads = 2, .group = group, .head_dim = group % 2 ? 64 : 128,
                     .k_format = KvFormat::f16, .v_format = KvFormat::f16, .seqs = {{0, 200}, {500, 77}, {1, 1}}};
    check_prefill(c, 700 + group, false);
  }
}

TEST(CudaAttentionPrefill, LongPrompt) {
  const AttnCase c{.n_kv_heads = 2, .group = 4, .head_dim = 128, .k_format = KvFormat::int8,
                   .v_format = KvFormat::int4, .seqs = {{0, 2048}, {3000, 500}}};
  check_prefill(c, 800, true);
}

}  // namespace
}  // namespace mixserve
