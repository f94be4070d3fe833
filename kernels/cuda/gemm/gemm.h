#pragma once
// Quantized GEMM on the GPU: y[m][n] = sum_k x[m][k] * W[n][k], x and y fp16 or bf16 row-major, fp32
// accumulation. W is one of
//   int4 (group 32/64/128, scale and integer zero) or int8 (per channel), weight-only (W4A16/W8A16), in the
//     packed layout of kernels/formats/packed_weight.h: our mma.sync m16n8k16 kernel (sm_80 and sm_90);
//   fp8 e4m3 (W8A8, per-channel weight scales), row-major: run_gemm first quantizes x per token
//     (fp8_activation.h), then runs our mma.sync kernel on the codes (small M) or cuBLASLt's fp8 GEMM (large M,
//     sm_90; fp8_cublaslt.h).
//
// Host-side plan, device-side run: plan_gemm() picks a tile configuration by M bucket and a split-K factor so
// every SM streams weights, and says how much workspace the run needs; run_gemm() launches without
// allocating. Thread-safety: a DeviceWeight and a GemmWorkspace are used by one stream at a time.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "kernels/formats/weight_format.h"

namespace mixserve::cuda {

enum class ActDtype { f16, bf16 };
const char* act_dtype_name(ActDtype dtype);

// A weight on the device. The scale array is built for one activation dtype (int4: {s, magic + z} per
// row and group in the kernel's order; int8, fp8: fp32 per channel), so a weight serves fp16 or bf16, not both.
// fp8 codes are row-major [n_pad][k_pad] bytes, zero-padded.
class DeviceWeight {
 public:
  static Result<DeviceWeight> upload(const QuantizedWeight& packed, ActDtype act);
  DeviceWeight() = default;
  DeviceWeight(DeviceWeight&& other) noexcept { *this = std::move(other); }
  DeviceWeight& operator=(DeviceWeight&& other) noexcept;
  DeviceWeight(const DeviceWeight&) = delete;
  DeviceWeight& operator=(const DeviceWeight&) = delete;
  ~DeviceWeight();

  WeightFormat format = WeightFormat::int4;
  ActDtype act = ActDtype::f16;
  int64_t n = 0, k = 0, n_pad = 0, k_pad = 0;
  int group_size = 0;
  void* q = nullptr;       // q, n_pad * k_pad / 2 (int4) or n_pad * k_pad (int8, fp8) bytes
  void* scales = nullptr;  // see above
  size_t q_bytes = 0, scale_bytes = 0;
};

// A tile configuration: block = warps * 32 threads; each warp owns warp_tiles 16-row tiles of W; a block covers
// block_m tokens; chunks_per_stage 64-column chunks of x per shared-memory stage.
struct GemmConfig {
  int id = 0;
  int block_m = 0, warps = 0, warp_tiles = 0, chunks_per_stage = 0, stages = 0;
};

struct Fp8LtAlgo;

// The configuration id of fp8 plans that run on cuBLASLt instead of a compiled tile configuration.
inline constexpr int kGemmCublasLtConfig = 7;
// From this M on, fp8 plans use cuBLASLt by default where it has an algorithm: on the H100 it beat our kernel
// on all four Llama-3-8B shapes from M = 16 (benchmarks/RESULTS.md, fp8 table); below, ours wins on 3 of 4.
inline constexpr int kFp8CublasLtMinM = 16;

struct GemmPlan {
  GemmConfig config;
  int m = 0;
  int m_blocks = 0, n_blocks = 0, splits = 1, chunks_per_split = 0;
  size_t smem_bytes = 0;
  size_t workspace_bytes = 0;  // 0 when splits == 1 and the weight is not fp8
  // fp8: where run_gemm puts the quantized activations (codes, then per-token scales) and, for cuBLASLt plans,
  // cuBLASLt's workspace, as byte offsets into the workspace.
  size_t codes_offset = 0, x_scales_offset = 0, lt_workspace_offset = 0;
  std::shared_ptr<const Fp8LtAlgo> lt;  // set: the plan runs on cuBLASLt (config.id == kGemmCublasLtConfig)
  std::string describe() const;
};

// Split-K workspace layout: per-tile arrival counters in a fixed region at the start, then the fp32 partial
// sums. The counters start at zero (GemmWorkspace::create) and every run leaves the ones it used at zero; the
// region's place does not depend on the plan, so partial sums of one plan can never land on the counters of
// another, and one workspace serves any number of runs of any plans on one stream. A plan with more output
// tiles than the region holds does not split.
inline constexpr size_t kGemmCounterBytes = size_t{64} << 10;  // 16384 tiles

// Workspace for split-K runs (layout above).
class GemmWorkspace {
 public:
  static Result<GemmWorkspace> create(size_t bytes);
  GemmWorkspace() = default;
  GemmWorkspace(GemmWorkspace&& other) noexcept { *this = std::move(other); }
  GemmWorkspace& operator=(GemmWorkspace&& other) noexcept;
  GemmWorkspace(const GemmWorkspace&) = delete;
  GemmWorkspace& operator=(const GemmWorkspace&) = delete;
  ~GemmWorkspace();
  void* data = nullptr;
  size_t bytes = 0;
};

// config_id < 0 picks by M bucket (the default); >= 0 forces one configuration (tests, benchmark sweeps).
// splits <= 0 picks the split-K factor from the SM count and the kernel's occupancy.
// fp8 weights: config_id kGemmCublasLtConfig forces cuBLASLt (unsupported where it has no algorithm).
Result<GemmPlan> plan_gemm(const DeviceWeight& w, int m, int config_id = -1, int splits = 0);
int gemm_default_config(int m);                 // plan_gemm's tile configuration for m by default
int gemm_config_count();                        // the compiled tile configurations
int gemm_config_count(WeightFormat format);     // plus cuBLASLt for fp8

struct GemmArgs {
  const void* x = nullptr;  // [m][k], k % 8 == 0 (16-byte rows), 16-byte aligned
  void* y = nullptr;        // [m][n]
  GemmWorkspace* workspace = nullptr;  // plan.workspace_bytes or more; may be null when splits == 1
  cudaStream_t stream = nullptr;
};
Status run_gemm(const GemmPlan& plan, const DeviceWeight& w, const GemmArgs& args);

}  // namespace mixserve::cuda
