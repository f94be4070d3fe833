// attention_bench: decode and prefill over the paged cache on the GPU, with the device's measured copy
// bandwidth as the yardstick. One row per (kernel, format, shape): microseconds (median of timed runs), GB/s
// of KV bytes (decode) or TFLOP/s (prefill). Caches are filled by rope_kv_write from random activations; small
// caches are replicated past the L2 and rotated so that every timed run reads device memory.
//   attention_bench [csv_path]
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/cuda/common/cuda_check.h"

using namespace mixserve;

namespace {

#define CHECK_OK(expr)                                                                   \
  do {                                                                                   \
    auto _s = (expr);                                                                    \
    if (!_s.ok()) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, _s.to_string().c_str());   \
      std::exit(1);                                                                      \
    }                                                                                    \
  } while (0)
#define CHECK_CUDA(expr) CHECK_OK(cuda::cuda_status((expr), #expr, __FILE__, __LINE__))

template <typename T>
T value_or_die(Result<T> r) {
  CHECK_OK(r.status());
  return std::move(*r);
}

// Fresh pseudo-random fp16 activations, uniform in [-2, 2).
__global__ void fill_random(__half* x, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    h ^= h >> 31; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 29;
    x[i] = __float2half_rn(static_cast<float>(h >> 40) / float(1 << 24) * 4.0f - 2.0f);
  }
}

template <typename F>
double median_us(F&& launch, int reps) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) launch(i);
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a);
    launch(i);
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms * 1e3);
  }
  CHECK_CUDA(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

constexpr int kHq = 32, kHkv = 8, kD = 128, kBlock = 64;

struct Cache {
  cuda::DeviceBytes k, kp, v, vp;
  KvPoolView kview, vview;
  std::vector<std::vector<cuda::HostSequence>> copies;  // per copy: the B sequences' block tables
  double fill_us = 0;
};

// R copies of a cache of B sequences of L positions, filled through rope_kv_write.
Cache make_cache(KvFormat fmt, int B, int L, int copies, const cuda::DeviceBytes& inv_freq) {
  Cache c;
  const int blocks_per_seq = (L + kBlock - 1) / kBlock;
  KvPoolLayout layout{.n_blocks = int64_t(copies) * B * blocks_per_seq, .block_size = kBlock, .n_kv_heads = kHkv,
                      .head_dim = kD, .format = fmt};
  c.k = value_or_die(cuda::DeviceBytes::allocate(layout.data_bytes()));
  c.v = value_or_die(cuda::DeviceBytes::allocate(layout.data_bytes()));
  c.kp = value_or_die(cuda::DeviceBytes::allocate(layout.param_count() * 2));
  c.vp = value_or_die(cuda::DeviceBytes::allocate(layout.param_count() * 2));
  c.kview = {layout, c.k.as<uint8_t>(), c.kp.as<uint16_t>(), 0.05f};
  c.vview = {layout, c.v.as<uint8_t>(), c.vp.as<uint16_t>(), 0.05f};
  int32_t next = 0;
  for (int r = 0; r < copies; ++r) {
    std::vector<cuda::HostSequence> seqs;
    for (int b = 0; b < B; ++b) {
      cuda::HostSequence s{.n_new = 1, .start_pos = L - 1};
      for (int i = 0; i < blocks_per_seq; ++i) s.block_table.push_back(next++);
      seqs.push_back(std::move(s));
    }
    c.copies.push_back(std::move(seqs));
  }
  // Fill in pieces of at most 64k tokens of qkv.
  const int64_t row = int64_t(kHq + 2 * kHkv) * kD;
  const int seqs_per_piece = std::max(1, 65536 / L);
  auto qkv = value_or_die(cuda::DeviceBytes::allocate(size_t(seqs_per_piece) * L * row * 2));
  for (int r = 0; r < copies; ++r) {
    for (int b0 = 0; b0 < B; b0 += seqs_per_piece) {
      std::vector<cuda::HostSequence> fill;
      for (int b = b0; b < std::min(B, b0 + seqs_per_piece); ++b) {
        cuda::HostSequence s = c.copies[r][b];
        s.n_new = L;
        s.start_pos = 0;
        fill.push_back(std::move(s));
      }
      auto batch = value_or_die(cuda::DeviceBatch::upload(fill));
      const size_t n = size_t(fill.size()) * L * row;
      fill_random<<<1024, 256>>>(qkv.as<__half>(), n, 1234 + r * 977 + b0);
      const cuda::RopeKvWriteParams p{.qkv = qkv.as<__half>(), .row_stride = row, .n_q_heads = kHq,
                                      .inv_freq = inv_freq.as<float>(), .batch = batch.view(),
                                      .k_pool = c.kview, .v_pool = c.vview};
      if (r == 0 && b0 == 0) c.fill_us = median_us([&](int) { CHECK_OK(cuda::rope_kv_write(p, nullptr)); }, 5);
      CHECK_OK(cuda::rope_kv_write(p, nullptr));
    }
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  return c;
}

double copy_bandwidth_gbs() {
  const size_t bytes = size_t(2) << 30;
  auto a = value_or_die(cuda::DeviceBytes::allocate(bytes));
  auto b = value_or_die(cuda::DeviceBytes::allocate(bytes));
  CHECK_CUDA(cudaMemset(a.get(), 1, bytes));
  const double us = median_us([&](int) { cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice); }, 10);
  return 2.0 * bytes / us * 1e-3;  // read + write
}

}  // namespace

int main(int argc, char** argv) {
  FILE* csv = argc > 1 ? std::fopen(argv[1], "w") : nullptr;
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  const double copy_gbs = copy_bandwidth_gbs();
  std::printf("device %s, %d SMs; D2D copy %.0f GB/s (read + write)\n", prop.name, prop.multiProcessorCount, copy_gbs);
  if (csv) std::fprintf(csv, "kind,format,B,L,us,gbs_or_tflops,pct_copy,splits\ncopy,-,0,0,0,%.1f,100,0\n", copy_gbs);
  const RopeScaling scaling{.type = RopeScalingType::llama3, .factor = 8.0, .low_freq_factor = 1.0,
                            .high_freq_factor = 4.0, .original_max_position_embeddings = 8192};
  const auto inv_freq = value_or_die(cuda::upload_vector(cpu::rope_inv_freq(kD, 500000.0, scaling)));
  const std::pair<int, int> shapes[] = {{1, 4096}, {1, 32768}, {32, 2048}, {64, 4096}, {128, 1024}};
  const KvFormat formats[] = {KvFormat::f16, KvFormat::bf16, KvFormat::fp8_e4m3, KvFormat::int8, KvFormat::int4};
  auto q = value_or_die(cuda::DeviceBytes::allocate(size_t(128) * kHq * kD * 2));
  auto out = value_or_die(cuda::DeviceBytes::allocate(size_t(128) * kHq * kD * 2));
  fill_random<<<256, 256>>>(q.as<__half>(), size_t(128) * kHq * kD, 7);
  std::printf("%-8s %-6s %4s %6s %9s %9s %7s %6s %10s\n", "kernel", "kv", "B", "L", "us", "GB/s", "%copy", "splits",
              "fill_us");
  for (auto [B, L] : shapes) {
    for (KvFormat fmt : formats) {
      KvPoolLayout one{.n_blocks = int64_t(B) * ((L + kBlock - 1) / kBlock), .block_size = kBlock,
                       .n_kv_heads = kHkv, .head_dim = kD, .format = fmt};
      const double kv_bytes = 2.0 * (one.data_bytes() + one.param_count() * 2);
      const int copies = std::max(1, int(std::ceil(256e6 / kv_bytes)));
      Cache c = make_cache(fmt, B, L, copies, inv_freq);
      std::vector<cuda::DeviceBatch> batches;
      for (auto& seqs : c.copies) batches.push_back(value_or_die(cuda::DeviceBatch::upload(seqs)));
      auto params = [&](int r) {
        return cuda::AttentionParams{.q = q.as<__half>(), .q_row_stride = kHq * kD, .out = out.as<__half>(),
                                     .n_q_heads = kHq, .softmax_scale = 1.0f / std::sqrt(float(kD)),
                                     .batch = batches[r % copies].view(), .k_pool = c.kview, .v_pool = c.vview};
      };
      const cuda::DecodePlan plan = value_or_die(cuda::plan_decode(params(0), prop.multiProcessorCount));
      auto ws = value_or_die(cuda::DeviceBytes::allocate(plan.workspace_bytes));
      const double us = median_us([&](int i) { CHECK_OK(cuda::paged_decode(params(i), plan, ws.get(), nullptr)); }, 50);
      const double gbs = kv_bytes / us * 1e-3;
      std::printf("%-8s %-6s %4d %6d %9.1f %9.0f %6.1f%% %6d %10.1f\n", "decode", kv_format_name(fmt), B, L, us, gbs,
                  100 * gbs / copy_gbs, plan.n_splits, c.fill_us);
      if (csv) std::fprintf(csv, "decode,%s,%d,%d,%.2f,%.1f,%.1f,%d\n", kv_format_name(fmt), B, L, us, gbs,
                            100 * gbs / copy_gbs, plan.n_splits);
    }
  }
  // Prefill, causal, fp16 cache: FLOPs counted as torch does for causal SDPA (half of 4 * B * Hq * L^2 * D).
  for (auto [B, L] : {std::pair{1, 4096}, std::pair{4, 2048}, std::pair{1, 16384}}) {
    for (KvFormat fmt : {KvFormat::f16, KvFormat::int8}) {
      Cache c = make_cache(fmt, B, L, 1, inv_freq);
      std::vector<cuda::HostSequence> seqs = c.copies[0];
      for (auto& s : seqs) s.n_new = L, s.start_pos = 0;
      auto batch = value_or_die(cuda::DeviceBatch::upload(seqs));
      auto pq = value_or_die(cuda::DeviceBytes::allocate(size_t(B) * L * kHq * kD * 2));
      auto po = value_or_die(cuda::DeviceBytes::allocate(size_t(B) * L * kHq * kD * 2));
      fill_random<<<1024, 256>>>(pq.as<__half>(), size_t(B) * L * kHq * kD, 99);
      const cuda::AttentionParams p{.q = pq.as<__half>(), .q_row_stride = kHq * kD, .out = po.as<__half>(),
                                    .n_q_heads = kHq, .softmax_scale = 1.0f / std::sqrt(float(kD)),
                                    .batch = batch.view(), .k_pool = c.kview, .v_pool = c.vview};
      const double us = median_us([&](int) { CHECK_OK(cuda::paged_prefill(p, nullptr)); }, 10);
      const double tflops = 2.0 * B * kHq * double(L) * L * kD / us * 1e-6;
      std::printf("%-8s %-6s %4d %6d %9.1f %8.1fT %7s %6s %10.1f\n", "prefill", kv_format_name(fmt), B, L, us, tflops,
                  "-", "-", c.fill_us);
      if (csv) std::fprintf(csv, "prefill,%s,%d,%d,%.2f,%.2f,0,0\n", kv_format_name(fmt), B, L, us, tflops);
    }
  }
  if (csv) std::fclose(csv);
  return 0;
}
