// The fused RoPE + KV-cache write against the CPU reference (cpu::rope, then cpu::kv_cache_write): cache
// bytes and params identical for every K x V format pair, rotated Q and K identical in fp16, with llama3
// scaling at positions up to 40k.
#include <gtest/gtest.h>

#include "attention_test_support.h"
#include "kernels/cpu/rope.h"

namespace mixserve {
namespace {

void check_rope_kv(KvFormat kf, KvFormat vf, int head_dim, uint64_t salt) {
  SCOPED_TRACE(std::string("K ") + kv_format_name(kf) + " V " + kv_format_name(vf) + " D " + std::to_string(head_dim));
  auto rng = test::make_rng(salt);
  const int hkv = 2, hq = 8, bs = 64, d = head_dim, heads = hq + 2 * hkv;
  const std::vector<test::SeqSpec> specs = {{0, 70}, {40000, 3}, {127, 1}, {5, 60}};
  // An empty cache (zero bytes) on both sides; the write must fill exactly the same slots.
  test::PagedCase pc;
  pc.build({.n_kv_heads = hkv, .group = hq / hkv, .head_dim = d, .k_format = kf, .v_format = vf,
            .seqs = {{0, 0}}}, rng);  // pools of the right formats; resized below
  int64_t n_blocks = 0;
  std::vector<cuda::HostSequence> seqs;
  for (const auto& s : specs) n_blocks += (s.start_pos + s.n_new + bs - 1) / bs;
  std::vector<int32_t> ids(n_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  int next = 0, n_tokens = 0;
  for (const auto& s : specs) {
    cuda::HostSequence hs{.n_new = s.n_new, .start_pos = s.start_pos};
    for (int b = 0; b < (s.start_pos + s.n_new + bs - 1) / bs; ++b) hs.block_table.push_back(ids[next++]);
    n_tokens += s.n_new;
    seqs.push_back(std::move(hs));
  }
  KvPoolLayout kl{.n_blocks = n_blocks, .block_size = bs, .n_kv_heads = hkv, .head_dim = d, .format = kf};
  KvPoolLayout vl = kl;
  vl.format = vf;
  pc.k.init(kl, 0.02f);
  pc.v.init(vl, 0.03f);
  pc.k.upload();
  pc.v.upload();

  // qkv in fp16, values spread like real activations (some rows with a large outlier).
  std::vector<uint16_t> qkv_bits(static_cast<size_t>(n_tokens) * heads * d);
  std::vector<float> qkv(qkv_bits.size());
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (size_t i = 0; i < qkv.size(); ++i) {
    qkv_bits[i] = fp32_to_fp16_bits(normal(rng) * (i % 97 == 0 ? 8.0f : 1.0f));
    qkv[i] = fp16_bits_to_fp32(qkv_bits[i]);
  }
  const RopeScaling scaling{.type = RopeScalingType::llama3, .factor = 8.0, .low_freq_factor = 1.0,
                            .high_freq_factor = 4.0, .original_max_position_embeddings = 8192};
  const std::vector<float> inv_freq = cpu::rope_inv_freq(d, 500000.0, scaling);

  // GPU.
  auto batch = cuda::DeviceBatch::upload(seqs);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  auto d_qkv = cuda::upload_vector(qkv_bits);
  auto d_freq = cuda::upload_vector(inv_freq);
  ASSERT_TRUE(d_qkv.ok() && d_freq.ok());
  const cuda::RopeKvWriteParams p{.qkv = d_qkv->as<__half>(), .row_stride = static_cast<int64_t>(heads) * d,
                                  .n_q_heads = hq, .inv_freq = d_freq->as<float>(), .batch = batch->view(),
                                  .k_pool = pc.k.device(), .v_pool = pc.v.device()};
  ASSERT_TRUE(cuda::rope_kv_write(p, nullptr).ok());
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> gpu_qkv(qkv_bits.size());
  ASSERT_TRUE(d_qkv->download(gpu_qkv.data(), gpu_qkv.size() * 2).ok());
  std::vector<uint8_t> gpu_k(pc.k.data.size()), gpu_v(pc.v.data.size());
  std::vector<uint16_t> gpu_kp(pc.k.params.size()), gpu_vp(pc.v.params.size());
  ASSERT_TRUE(pc.k.d_data.download(gpu_k.data(), gpu_k.size()).ok());
  ASSERT_TRUE(pc.v.d_data.download(gpu_v.data(), gpu_v.size()).ok());
  ASSERT_TRUE(pc.k.d_params.download(gpu_kp.data(), gpu_kp.size() * 2).ok());
  ASSERT_TRUE(pc.v.d_params.download(gpu_vp.data(), gpu_vp.size() * 2).ok());

  // CPU: rope on q and k (one call over q and k heads together), then the cache write.
  std::vector<int32_t> positions;
  std::vector<cpu::PagedSequence> cpu_seqs;
  int64_t offset = 0;
  for (const auto& s : seqs) {
    for (int t = 0; t < s.n_new; ++t) positions.push_back(s.start_pos + t);
    cpu_seqs.push_back({.n_new = s.n_new, .start_pos = s.start_pos, .token_offset = offset, .block_table = s.block_table.data()});
    offset += s.n_new;
  }
  cpu::rope({.x = qkv.data(), .positions = positions.data(), .inv_freq = inv_freq.data(), .n_tokens = n_tokens,
             .n_heads = hq + hkv, .head_dim = d, .row_stride = static_cast<int64_t>(heads) * d},
            test::attention_threads());
  cpu::kv_cache_write({.k = qkv.data() + hq * d, .v = qkv.data() + (hq + hkv) * d,
                       .row_stride = static_cast<int64_t>(heads) * d, .sequences = cpu_seqs,
                       .k_pool = pc.k.host(), .v_pool = pc.v.host()},
                      test::attention_threads());

  size_t q_mismatch = 0;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int i = 0; i < (hq + hkv) * d; ++i)
      q_mismatch += gpu_qkv[t * heads * d + i] != fp32_to_fp16_bits(qkv[t * heads * d + i]);
  EXPECT_EQ(q_mismatch, 0u) << "rotated q/k differ from the CPU's";
  EXPECT_TRUE(gpu_k == pc.k.data) << "K cache bytes differ";
  EXPECT_TRUE(gpu_v == pc.v.data) << "V cache bytes differ";
  EXPECT_TRUE(gpu_kp == pc.k.params) << "K params differ";
  EXPECT_TRUE(gpu_vp == pc.v.params) << "V params differ";
  size_t written = 0;
  for (uint8_t b : pc.k.data) written += b != 0;
  EXPECT_GT(written, 0u) << "the reference wrote nothing: the comparison above proves nothing";
}

TEST(CudaAttentionRopeKv, EveryFormatPairMatchesCpuBitForBit) {
  int i = 0;
  for (KvFormat kf : test::kGpuFormats)
    for (KvFormat vf : test::kGpuFormats) check_rope_kv(kf, vf, i % 2 ? 64 : 128, 900 + i), ++i;
}

}  // namespace
}  // namespace mixserve
