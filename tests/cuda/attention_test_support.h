#pragma once
// Shared by the attention_*_test.cpp files: a paged cache filled on the CPU through kv_write_row (so the GPU
// and the CPU reference read the same bytes), queries rounded to fp16, and the CPU reference's output.
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/float_convert.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/cuda/common/cuda_check.h"
#include "test_support.h"

namespace mixserve::test {

constexpr KvFormat kGpuFormats[] = {KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8, KvFormat::int4};

inline ThreadPool& attention_threads() {
  static ThreadPool pool(0);
  return pool;
}

struct SeqSpec {
  int start_pos;
  int n_new;
};

struct AttnCase {
  int n_kv_heads = 2;
  int group = 4;
  int head_dim = 128;
  int block_size = 64;
  KvFormat k_format = KvFormat::f16;
  KvFormat v_format = KvFormat::f16;
  std::vector<SeqSpec> seqs;
};

inline std::string describe(const AttnCase& c) {
  std::string s = std::string("K ") + kv_format_name(c.k_format) + " V " + kv_format_name(c.v_format) +
                  " D " + std::to_string(c.head_dim) + " group " + std::to_string(c.group) + " Hkv " +
                  std::to_string(c.n_kv_heads) + " bs " + std::to_string(c.block_size) + " seqs";
  for (const SeqSpec& q : c.seqs) s += " (" + std::to_string(q.start_pos) + "+" + std::to_string(q.n_new) + ")";
  return s;
}

// A host pool and its device copy.
struct PoolPair {
  KvPoolLayout layout;
  std::vector<uint8_t> data;
  std::vector<uint16_t> params;
  cuda::DeviceBytes d_data, d_params;
  float fp8_scale = 1.0f;

  KvPoolView host() { return {layout, data.data(), params.empty() ? nullptr : params.data(), fp8_scale}; }
  KvPoolView device() const {
    return {layout, d_data.as<uint8_t>(), params.empty() ? nullptr : d_params.as<uint16_t>(), fp8_scale};
  }
  void init(const KvPoolLayout& l, float scale) {
    layout = l;
    fp8_scale = scale;
    data.assign(l.data_bytes(), 0);
    params.assign(l.param_count(), 0);
  }
  void upload() {
    auto d = cuda::DeviceBytes::upload(data.data(), data.size());
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    d_data = std::move(*d);
    auto p = cuda::DeviceBytes::upload(params.data(), params.size() * 2);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    d_params = std::move(*p);
  }
};

// The cache of every sequence filled with random rows, the queries of the new tokens, and both sides' views.
struct PagedCase {
  AttnCase c;
  PoolPair k, v;
  std::vector<cuda::HostSequence> host_seqs;
  std::vector<std::vector<int32_t>> tables;
  int n_tokens = 0;
  std::vector<float> q;          // [n_tokens][Hq][D], values exactly representable in fp16
  std::vector<uint16_t> q_bits;  // the same in fp16
  int n_q_heads() const { return c.n_kv_heads * c.group; }

  void build(const AttnCase& spec, std::mt19937_64& rng) {
    c = spec;
    const int bs = c.block_size, d = c.head_dim;
    int64_t n_blocks = 2;
    for (const SeqSpec& s : c.seqs) n_blocks += (s.start_pos + s.n_new + bs - 1) / bs;
    std::vector<int32_t> ids(n_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);  // scattered blocks: the kernels must follow the table
    const KvPoolLayout base{.n_blocks = n_blocks, .block_size = bs, .n_kv_heads = c.n_kv_heads, .head_dim = d};
    KvPoolLayout kl = base, vl = base;
    kl.format = c.k_format;
    vl.format = c.v_format;
    std::uniform_real_distribution<float> scale_dist(0.5f, 2.0f);
    k.init(kl, c.k_format == KvFormat::fp8_e4m3 ? scale_dist(rng) * 0.01f : 1.0f);
    v.init(vl, c.v_format == KvFormat::fp8_e4m3 ? scale_dist(rng) * 0.01f : 1.0f);
    size_t next = 0;
    for (const SeqSpec& s : c.seqs) {
      const int kv_len = s.start_pos + s.n_new;
      cuda::HostSequence hs{.n_new = s.n_new, .start_pos = s.start_pos};
      for (int b = 0; b < (kv_len + bs - 1) / bs; ++b) hs.block_table.push_back(ids[next++]);
      std::vector<float> row(d);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      for (int pos = 0; pos < kv_len; ++pos) {
        for (int h = 0; h < c.n_kv_heads; ++h) {
          const int64_t block = hs.block_table[pos / bs];
          for (float& x : row) x = normal(rng);
          kv_write_row(k.host(), block, h, pos % bs, row.data());
          for (float& x : row) x = normal(rng);
          kv_write_row(v.host(), block, h, pos % bs, row.data());
        }
      }
      n_tokens += s.n_new;
      host_seqs.push_back(std::move(hs));
    }
    k.upload();
    v.upload();
    q = random_normal(static_cast<size_t>(n_tokens) * n_q_heads() * d, rng);
    q_bits.resize(q.size());
    for (size_t i = 0; i < q.size(); ++i) {
      q_bits[i] = fp32_to_fp16_bits(q[i]);
      q[i] = fp16_bits_to_fp32(q_bits[i]);
    }
  }

  std::vector<float> cpu_reference() {
    std::vector<cpu::PagedSequence> seqs;
    int64_t offset = 0;
    for (const cuda::HostSequence& s : host_seqs) {
      seqs.push_back({.n_new = s.n_new, .start_pos = s.start_pos, .token_offset = offset, .block_table = s.block_table.data()});
      offset += s.n_new;
    }
    std::vector<float> out(q.size());
    const cpu::PagedAttentionParams p{.q = q.data(), .q_row_stride = static_cast<int64_t>(n_q_heads()) * c.head_dim,
                                      .out = out.data(), .n_q_heads = n_q_heads(),
                                      .softmax_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                                      .sequences = seqs, .k_pool = k.host(), .v_pool = v.host()};
    cpu::paged_attention(p, attention_threads());
    return out;
  }

  // Runs decode (every n_new == 1) or prefill on the GPU; returns the output as floats. The output buffer is
  // poisoned with NaN first so that an unwritten element fails the comparison.
  Result<std::vector<float>> gpu(bool decode, int sm_count) {
    MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBatch batch, cuda::DeviceBatch::upload(host_seqs));
    MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes d_q, cuda::upload_vector(q_bits));
    std::vector<uint16_t> poison(q.size(), 0x7E00);
    MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes d_out, cuda::upload_vector(poison));
    const cuda::AttentionParams p{.q = d_q.as<__half>(), .q_row_stride = static_cast<int64_t>(n_q_heads()) * c.head_dim,
                                  .out = d_out.as<__half>(), .n_q_heads = n_q_heads(),
                                  .softmax_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                                  .batch = batch.view(), .k_pool = k.device(), .v_pool = v.device()};
    if (decode) {
      MIXSERVE_ASSIGN_OR_RETURN(cuda::DecodePlan plan, cuda::plan_decode(p, sm_count));
      MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes ws, cuda::DeviceBytes::allocate(plan.workspace_bytes));
      MIXSERVE_RETURN_IF_ERROR(cuda::paged_decode(p, plan, ws.get(), nullptr));
    } else {
      MIXSERVE_RETURN_IF_ERROR(cuda::paged_prefill(p, nullptr));
    }
    MIXSERVE_RETURN_IF_ERROR(cuda::cuda_status(cudaDeviceSynchronize(), "kernel", __FILE__, __LINE__));
    std::vector<uint16_t> bits(q.size());
    MIXSERVE_RETURN_IF_ERROR(d_out.download(bits.data(), bits.size() * 2));
    std::vector<float> out(bits.size());
    for (size_t i = 0; i < bits.size(); ++i) out[i] = fp16_bits_to_fp32(bits[i]);
    return out;
  }
};

inline int sm_count() {
  int n = 0;
  cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, 0);
  return n;
}

// fp16 operands (Q, P, dequantized K and V) with fp32 accumulation: errors near 1e-3.
constexpr double kAttentionTolerance = 5e-3;

inline void expect_matches(const std::vector<float>& gpu, const std::vector<float>& ref, const std::string& what) {
  size_t bad = 0;
  for (float x : gpu) bad += !std::isfinite(x);
  EXPECT_EQ(bad, 0u) << what << ": non-finite (unwritten) outputs";
  const double err = relative_frobenius_error(gpu, ref);
  EXPECT_LT(err, kAttentionTolerance) << what;
}

}  // namespace mixserve::test
