// gemm_bench: our weight-only GEMM (int4 g128 and int8, fp16/bf16 activations) against cuBLAS fp16 and bf16
// (cublasGemmEx) in the same process, on the Llama-3-8B layer shapes. Prints microseconds (median of
// batched launches), TFLOP/s, GB/s of weight bytes (q + scales) and percent of the measured device copy
// bandwidth (cudaMemcpy D2D, bytes read + written). Weight buffers rotate so the set exceeds L2 (no cache
// hits across launches). For int4 fp16 it also runs the tuner (kernels/cuda/gemm/gemm_tuner.h) per shape and M
// and times its pick the same way. Usage: gemm_bench [--quick] [--tune-cache=FILE] [--fp8] [--only=LAYER:M]
// (quick: M in {1, 16, 256} only; FILE receives the tuned choices; --fp8: the fp8 W8A8 table instead, see
// run_fp8_table; --only: one layer and M, e.g. for a profiler run).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/float_convert.h"
#include "kernels/cuda/gemm/fp8_activation.h"
#include "kernels/cuda/gemm/gemm.h"
#include "kernels/cuda/gemm/gemm_tuner.h"
#include "kernels/formats/packed_weight.h"

namespace {

using mixserve::QuantizedWeight;
using mixserve::WeightFormat;
using mixserve::cuda::ActDtype;

#define CHECK_CUDA(x)                                                                        \
  do {                                                                                       \
    cudaError_t e_ = (x);                                                                    \
    if (e_ != cudaSuccess) {                                                                 \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                          \
    }                                                                                        \
  } while (0)
#define CHECK_OK(x)                                                                     \
  do {                                                                                  \
    const auto& s_ = (x);                                                                    \
    if (!s_.ok()) {                                                                     \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, s_.status().to_string().c_str()); \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

// Median over `reps` of the mean time of `batch` back-to-back launches (launch gaps amortized), in us.
double time_us(const std::function<void(int)>& launch, int batch, int reps) {
  for (int i = 0; i < 3; ++i) launch(i);
  CHECK_CUDA(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  std::vector<double> ts;
  int call = 0;
  for (int r = 0; r < reps; ++r) {
    CHECK_CUDA(cudaEventRecord(a));
    for (int i = 0; i < batch; ++i) launch(call++);
    CHECK_CUDA(cudaEventRecord(b));
    CHECK_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    ts.push_back(1e3 * ms / batch);
  }
  CHECK_CUDA(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

double copy_bandwidth_gbs() {
  const size_t bytes = size_t{1} << 30;
  void *src, *dst;
  CHECK_CUDA(cudaMalloc(&src, bytes));
  CHECK_CUDA(cudaMalloc(&dst, bytes));
  CHECK_CUDA(cudaMemset(src, 0x5A, bytes));
  const double us = time_us([&](int) { CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice)); }, 2, 9);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * bytes / (us * 1e-6) / 1e9;
}

void* device_random_half(size_t count, ActDtype act, std::mt19937_64& rng, float stddev) {
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<uint16_t> h(count);
  for (auto& v : h) v = act == ActDtype::bf16 ? mixserve::fp32_to_bf16_bits(dist(rng)) : mixserve::fp32_to_fp16_bits(dist(rng));
  void* d;
  CHECK_CUDA(cudaMalloc(&d, count * 2));
  CHECK_CUDA(cudaMemcpy(d, h.data(), count * 2, cudaMemcpyHostToDevice));
  return d;
}

struct Shape {
  const char* name;
  int n, k;
};

constexpr size_t kRotateBytes = size_t{200} << 20;  // > 3x the 50 MB L2 of an H100

struct OursSet {
  std::vector<mixserve::cuda::DeviceWeight> copies;  // identical weights in distinct buffers
  size_t bytes = 0;
};

OursSet upload_copies(const QuantizedWeight& packed, ActDtype act) {
  OursSet s;
  do {
    auto w = mixserve::cuda::DeviceWeight::upload(packed, act);
    CHECK_OK(w);
    s.bytes = w->q_bytes + w->scale_bytes;
    s.copies.push_back(std::move(*w));
  } while (s.copies.size() * s.bytes < kRotateBytes);
  return s;
}

// config_id < 0: plan_gemm's default plan; otherwise that configuration with `splits`.
double time_ours(OursSet& set, int m, const void* x, void* y, int batch, int reps, std::string* how,
                 int config_id = -1, int splits = 0) {
  auto plan = mixserve::cuda::plan_gemm(set.copies[0], m, config_id, splits);
  CHECK_OK(plan);
  *how = plan->describe();
  auto ws = mixserve::cuda::GemmWorkspace::create(plan->workspace_bytes);
  CHECK_OK(ws);
  return time_us([&](int i) {
    auto st = mixserve::cuda::run_gemm(*plan, set.copies[i % set.copies.size()], {.x = x, .y = y, .workspace = &*ws});
    if (!st.ok()) { std::fprintf(stderr, "%s\n", st.to_string().c_str()); std::exit(1); }
  }, batch, reps);
}

// cuBLAS: y[m][n] = x[m][k] W[n][k]^T, i.e. column-major y^T (n x m) = W^T' (n x k) * x^T (k x m).
double time_cublas(cublasHandle_t h, const std::vector<void*>& ws, cudaDataType dt, int m, int n, int k, const void* x,
                   void* y, int batch, int reps) {
  const float one = 1.0f, zero = 0.0f;
  return time_us([&](int i) {
    cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one, ws[i % ws.size()], dt, k, x, dt, k,
                                     &zero, y, dt, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) { std::fprintf(stderr, "cublasGemmEx failed %d\n", st); std::exit(1); }
  }, batch, reps);
}

struct Shape;
void run_fp8_table(const Shape* shapes, int shape_count, const std::vector<int>& ms, double copy_gbs,
                   cublasHandle_t handle, std::mt19937_64& rng);

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, fp8 = false;
  std::string only_layer;
  int only_m = 0;
  std::string tune_cache_path;  // --tune-cache=FILE: write the tuner's choices (int4 g128 fp16) there
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--fp8") == 0) fp8 = true;
    if (std::strncmp(argv[i], "--only=", 7) == 0) {
      const std::string spec = argv[i] + 7;
      const size_t colon = spec.find(':');
      if (colon == std::string::npos) { std::fprintf(stderr, "--only=LAYER:M\n"); return 2; }
      only_layer = spec.substr(0, colon);
      only_m = std::atoi(spec.c_str() + colon + 1);
    }
    if (std::strncmp(argv[i], "--tune-cache=", 13) == 0) tune_cache_path = argv[i] + 13;
  }
  mixserve::cuda::GemmTuneCache tune_cache;
  cudaDeviceProp prop;
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  const double copy_gbs = copy_bandwidth_gbs();
  std::printf("# %s, %d SMs, L2 %d MB; copy d2d %.0f GB/s (read + write)\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20, copy_gbs);
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  std::vector<Shape> shapes = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 28672, 4096}, {"down", 4096, 14336}};
  if (!only_layer.empty()) {
    std::erase_if(shapes, [&](const Shape& s) { return s.name != only_layer; });
    if (shapes.empty() || only_m < 1) { std::fprintf(stderr, "--only: unknown layer or M\n"); return 2; }
  }
  std::vector<int> ms = {1, 16, 32, 64, 128, 256, 1024, 4096};
  if (quick) ms = {1, 16, 256};
  if (only_m > 0) ms = {only_m};
  std::mt19937_64 rng(2026);
  if (fp8) {
    run_fp8_table(shapes.data(), static_cast<int>(shapes.size()), ms, copy_gbs, handle, rng);
    cublasDestroy(handle);
    return 0;
  }
  std::printf("%-8s %5s | %9s %7s %6s %6s | %9s %6s %6s | %9s %9s | %9s %9s | %6s %6s | %s\n", "layer", "M",
              "int4 us", "GB/s", "%copy", "TF/s", "tuned us", "%copy", "xfp16", "int4bf us", "int8 us", "cb16 us",
              "cbbf us", "xfp16", "xbf16", "plan (int4 fp16) -> tuned");
  for (const Shape& s : shapes) {
    // Weights: random normal, RTN int4 g128 and int8, packed once on the host.
    std::vector<float> wf(static_cast<size_t>(s.n) * s.k);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (auto& v : wf) v = dist(rng);
    auto p4 = mixserve::pack_for_tensor_cores(mixserve::quantize_int4(wf.data(), s.n, s.k, 128));
    auto p8 = mixserve::pack_for_tensor_cores(mixserve::quantize_int8(wf.data(), s.n, s.k));
    CHECK_OK(p4);
    CHECK_OK(p8);
    wf = {};
    OursSet w4h = upload_copies(*p4, ActDtype::f16), w4b = upload_copies(*p4, ActDtype::bf16);
    OursSet w8h = upload_copies(*p8, ActDtype::f16);
    const size_t dense_bytes = size_t{2} * s.n * s.k;
    std::vector<void*> dh, db;
    dh.push_back(device_random_half(size_t{1} * s.n * s.k, ActDtype::f16, rng, 0.02f));
    db.push_back(device_random_half(size_t{1} * s.n * s.k, ActDtype::bf16, rng, 0.02f));
    while (dh.size() * dense_bytes < kRotateBytes) {  // copies of the first: distinct buffers, same values
      for (auto* set : {&dh, &db}) {
        void* d;
        CHECK_CUDA(cudaMalloc(&d, dense_bytes));
        CHECK_CUDA(cudaMemcpy(d, set->front(), dense_bytes, cudaMemcpyDeviceToDevice));
        set->push_back(d);
      }
    }
    for (int m : ms) {
      void* xh = device_random_half(size_t{1} * m * s.k, ActDtype::f16, rng, 1.0f);
      void* xb = device_random_half(size_t{1} * m * s.k, ActDtype::bf16, rng, 1.0f);
      void* y;
      CHECK_CUDA(cudaMalloc(&y, size_t{2} * m * s.n));
      const double flops = 2.0 * m * s.n * s.k;
      const int batch = m >= 1024 ? 3 : 20, reps = m >= 1024 ? 7 : 15;
      std::string how, unused;
      const double t4 = time_ours(w4h, m, xh, y, batch, reps, &how);
      // The tuner's pick for this (shape, M), timed the same way as the default plan.
      auto choice = mixserve::cuda::tune_gemm(w4h.copies[0], m, xh, y);
      CHECK_OK(choice);
      tune_cache.put(mixserve::cuda::gemm_tune_key(w4h.copies[0], m), *choice);
      std::string tuned_how;
      const double tt = time_ours(w4h, m, xh, y, batch, reps, &tuned_how, choice->config_id, choice->splits);
      const double t4b = time_ours(w4b, m, xb, y, batch, reps, &unused);
      const double t8 = time_ours(w8h, m, xh, y, batch, reps, &unused);
      const double c16 = time_cublas(handle, dh, CUDA_R_16F, m, s.n, s.k, xh, y, batch, reps);
      const double cbf = time_cublas(handle, db, CUDA_R_16BF, m, s.n, s.k, xb, y, batch, reps);
      const double gbs = w4h.bytes / (t4 * 1e-6) / 1e9;
      const double tgbs = w4h.bytes / (tt * 1e-6) / 1e9;
      std::printf("%-8s %5d | %9.1f %7.0f %5.0f%% %6.1f | %9.1f %5.0f%% %6.2f | %9.1f %9.1f | %9.1f %9.1f | %6.2f %6.2f | %s -> %s\n",
                  s.name, m, t4, gbs, 100.0 * gbs / copy_gbs, flops / (t4 * 1e-6) / 1e12, tt, 100.0 * tgbs / copy_gbs,
                  c16 / tt, t4b, t8, c16, cbf, c16 / t4, cbf / t4b, how.c_str(), tuned_how.c_str());
      std::fflush(stdout);
      cudaFree(xh);
      cudaFree(xb);
      cudaFree(y);
    }
    for (void* p : dh) cudaFree(p);
    for (void* p : db) cudaFree(p);
  }
  if (!tune_cache_path.empty()) {
    const mixserve::Status saved = tune_cache.save(tune_cache_path);
    if (!saved.ok()) std::fprintf(stderr, "%s\n", saved.to_string().c_str());
  }
  std::printf("columns: int4 = ours W4A16 g128 fp16 act, plan_gemm default (GB/s of q + scale bytes, %% of copy\n"
              "bandwidth); tuned = the tuner's pick for this shape and M (kernels/cuda/gemm/gemm_tuner.h), xfp16 = cb16 /\n"
              "tuned; int4bf = bf16 act;\n"
              "int8 = ours W8A16 fp16; cb16/cbbf = cublasGemmEx fp16/bf16 dense; xfp16 = cb16 / int4, xbf16 = cbbf / int4bf\n");
  cublasDestroy(handle);
  return 0;
}

namespace {

// The fp8 W8A8 table: ours (plan_gemm's default: per-token quantization of x, then our mma.sync kernel on the
// codes for small M or cuBLASLt for large M; bf16 out), each path forced, the quantization alone, and cuBLAS
// bf16 dense. Weight bytes: n * k codes + 4 n scale bytes.
void run_fp8_table(const Shape* shapes, int shape_count, const std::vector<int>& ms, double copy_gbs,
                   cublasHandle_t handle, std::mt19937_64& rng) {
  std::printf("%-8s %5s | %9s %7s %6s %6s | %9s %9s %9s %8s | %9s %6s | %s\n", "layer", "M", "fp8 us", "GB/s",
              "%copy", "TF/s", "kernel us", "lt us", "tuned us", "quant us", "cbbf us", "xbf16", "default plan -> tuned");
  for (int si = 0; si < shape_count; ++si) {
    const Shape& s = shapes[si];
    std::vector<float> wf(static_cast<size_t>(s.n) * s.k);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (auto& v : wf) v = dist(rng);
    OursSet w8 = upload_copies(mixserve::quantize_fp8(wf.data(), s.n, s.k), ActDtype::bf16);
    wf = {};
    const size_t dense_bytes = size_t{2} * s.n * s.k;
    std::vector<void*> db;
    db.push_back(device_random_half(size_t{1} * s.n * s.k, ActDtype::bf16, rng, 0.02f));
    while (db.size() * dense_bytes < kRotateBytes) {
      void* d;
      CHECK_CUDA(cudaMalloc(&d, dense_bytes));
      CHECK_CUDA(cudaMemcpy(d, db.front(), dense_bytes, cudaMemcpyDeviceToDevice));
      db.push_back(d);
    }
    for (int m : ms) {
      void* xb = device_random_half(size_t{1} * m * s.k, ActDtype::bf16, rng, 1.0f);
      void *y, *codes, *scales;
      CHECK_CUDA(cudaMalloc(&y, size_t{2} * m * s.n));
      CHECK_CUDA(cudaMalloc(&codes, size_t{2} * m * s.k));
      CHECK_CUDA(cudaMalloc(&scales, size_t{4} * m));
      const double flops = 2.0 * m * s.n * s.k;
      const int batch = m >= 1024 ? 3 : 20, reps = m >= 1024 ? 7 : 15;
      std::string how, unused;
      const double t = time_ours(w8, m, xb, y, batch, reps, &how);
      const double t_kernel = time_ours(w8, m, xb, y, batch, reps, &unused, mixserve::cuda::gemm_default_config(m));
      auto choice = mixserve::cuda::tune_gemm(w8.copies[0], m, xb, y);
      CHECK_OK(choice);
      std::string tuned_how;
      const double t_tuned = time_ours(w8, m, xb, y, batch, reps, &tuned_how, choice->config_id, choice->splits);
      double t_lt = -1;
      if (mixserve::cuda::plan_gemm(w8.copies[0], m, mixserve::cuda::kGemmCublasLtConfig).ok()) {
        t_lt = time_ours(w8, m, xb, y, batch, reps, &unused, mixserve::cuda::kGemmCublasLtConfig);
      }
      const bool lt_default = how.find("cuBLASLt") != std::string::npos;
      const mixserve::cuda::Fp8ActivationArgs quant{
          .x = xb, .act = ActDtype::bf16, .m = m, .k = s.k, .codes = codes, .codes_stride = s.k,
          .layout = lt_default ? mixserve::cuda::Fp8CodeLayout::e4m3_bytes : mixserve::cuda::Fp8CodeLayout::f16_values,
          .scales = static_cast<float*>(scales)};
      const double t_quant = time_us([&](int) {
        const mixserve::Status st = mixserve::cuda::quantize_activations_fp8(quant, nullptr);
        if (!st.ok()) { std::fprintf(stderr, "%s\n", st.to_string().c_str()); std::exit(1); }
      }, batch, reps);
      const double cbf = time_cublas(handle, db, CUDA_R_16BF, m, s.n, s.k, xb, y, batch, reps);
      const double gbs = w8.bytes / (t * 1e-6) / 1e9;
      std::printf("%-8s %5d | %9.1f %7.0f %5.0f%% %6.1f | %9.1f %9.1f %9.1f %8.1f | %9.1f %6.2f | %s -> %s\n", s.name, m,
                  t, gbs, 100.0 * gbs / copy_gbs, flops / (t * 1e-6) / 1e12, t_kernel, t_lt, t_tuned, t_quant, cbf,
                  cbf / t, how.c_str(), tuned_how.c_str());
      std::fflush(stdout);
      for (void* p : {xb, y, codes, scales}) cudaFree(p);
    }
    for (void* p : db) cudaFree(p);
  }
  std::printf("columns: fp8 = ours W8A8 (per-token dynamic x scales, per-channel w scales, bf16 out), plan_gemm's\n"
              "default, the activation quantization included; kernel = our mma.sync kernel forced (config by M);\n"
              "lt = cuBLASLt forced (-1: no algorithm); tuned = the tuner's pick (all configurations x splits, and\n"
              "cuBLASLt); quant = the activation quantization alone;\n"
              "cbbf = cublasGemmEx bf16 dense; xbf16 = cbbf / fp8\n");
}

}  // namespace
