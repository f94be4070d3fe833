// Planning (tile configuration by M bucket, split-K by SM count and occupancy) and launching of the
// weight-only GEMM; the kernels themselves are in wxa16_kernel.cuh, instantiated in gemm_int4/int8.cu.
#include "kernels/cuda/gemm/gemm.h"

#include <algorithm>

#include "kernels/cuda/common/cuda_check.h"
#include "kernels/cuda/gemm/fp8_activation.h"
#include "kernels/cuda/gemm/fp8_cublaslt.h"
#include "kernels/cuda/gemm/kernel_table.h"
#include "kernels/cuda/gemm/wxa16_params.h"

namespace mixserve::cuda {
namespace {

int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

// M buckets of the default configuration. The tuner's H100 choices on the Llama-3-8B shapes
// (benchmarks/gemm/h100-tune-cache.txt) put the smaller-block configurations one or two buckets higher than the
// first guess did (e.g. block_m 32 with split-K at M = 128-256, not block_m 64/128): a smaller block streams
// the weights with more blocks in flight, which matters more than re-reading x. Runs with a tune cache use
// its measured choices instead (gemm_tuner.h).
// M <= 8: config 5 (one 16-row tile per warp, half the register ring: more warps per SM), which the tuner chose
// at M = 1 on all four Llama-3-8B shapes (config 6 once, nearly tied).
int default_config(int m) { return m <= 8 ? 5 : m <= 64 ? 1 : m <= 256 ? 2 : m <= 512 ? 3 : 4; }

const gemm::KernelEntry* table_for(const DeviceWeight& w) {
  switch (w.format) {
    case WeightFormat::int4:
      return w.group_size >= 64 ? gemm::int4_wide_group_kernels(w.act) : gemm::int4_group32_kernels(w.act);
    case WeightFormat::fp8_e4m3: return gemm::fp8_kernels(w.act);
    default: return gemm::int8_kernels(w.act);
  }
}

size_t align_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

// fp8: the quantized activations (codes of `code_bytes` each, `stride` per row, then fp32 scales) after `base`.
void place_fp8_activations(GemmPlan& plan, size_t base, int64_t stride, int code_bytes) {
  plan.codes_offset = align_up(base);
  plan.x_scales_offset = align_up(plan.codes_offset + static_cast<size_t>(plan.m) * stride * code_bytes);
  plan.workspace_bytes = plan.x_scales_offset + static_cast<size_t>(plan.m) * sizeof(float);
}

Result<GemmPlan> plan_fp8_cublaslt(const DeviceWeight& w, int m) {
  GemmPlan plan{.config = {.id = kGemmCublasLtConfig}, .m = m};
  MIXSERVE_ASSIGN_OR_RETURN(plan.lt, find_fp8_lt_algo(w.n, w.k_pad, m, w.act));
  place_fp8_activations(plan, kGemmCounterBytes, w.k_pad, 1);
  plan.lt_workspace_offset = align_up(plan.workspace_bytes);
  plan.workspace_bytes = plan.lt_workspace_offset + kFp8LtWorkspaceBytes;
  return plan;
}

// Split-K by a wave model: blocks run in waves of sm_count * occupancy; a block costs its chunk count plus
// a fixed 2 chunks (pipeline fill, epilogue) plus, when split, its fp32 partial round trip (block_m / 16 chunks:
// 8 bytes per token and row against 32 bytes per row of an int4 chunk, discounted because partials mostly hit
// L2). Without the last two terms the model split 4096-token GEMMs 32 ways and moved 30 GB of partials
// (benchmarks/RESULTS.md, first H100 run).
int pick_splits(int units, int n_chunks, int slots, int min_chunks, int block_m) {
  int best = 1;
  double best_cost = 1e30;
  const int max_splits = std::max(1, std::min(64, n_chunks / std::max(1, min_chunks)));
  for (int s = 1; s <= max_splits; ++s) {
    const int per = ceil_div(n_chunks, s);
    const int s_eff = ceil_div(n_chunks, per);
    const double block_cost = per + 2.0 + (s_eff > 1 ? block_m / 16.0 : 0.0);
    const double cost = static_cast<double>(ceil_div(static_cast<int64_t>(units) * s_eff, slots)) * block_cost;
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best = s_eff;
    }
  }
  return best;
}

}  // namespace

int gemm_default_config(int m) { return default_config(m); }
int gemm_config_count() { return gemm::kConfigCount; }
int gemm_config_count(WeightFormat format) {
  static_assert(kGemmCublasLtConfig == gemm::kConfigCount);
  return format == WeightFormat::fp8_e4m3 ? gemm::kConfigCount + 1 : gemm::kConfigCount;
}

std::string GemmPlan::describe() const {
  if (lt) return "cuBLASLt fp8 (config " + std::to_string(kGemmCublasLtConfig) + ")";
  return "config " + std::to_string(config.id) + " (block_m " + std::to_string(config.block_m) + ", warps " +
         std::to_string(config.warps) + "x" + std::to_string(config.warp_tiles) + " tiles) grid " +
         std::to_string(m_blocks) + "x" + std::to_string(n_blocks) + "x" + std::to_string(splits) + ", " +
         std::to_string(chunks_per_split) + " chunks/split";
}

Result<GemmPlan> plan_gemm(const DeviceWeight& w, int m, int config_id, int splits) {
  if (m < 1) return invalid_argument("plan_gemm: m must be >= 1, got " + std::to_string(m));
  if (w.k % 8 != 0) return invalid_argument("plan_gemm: k must be a multiple of 8 (16-byte rows), got " + std::to_string(w.k));
  if (w.format == WeightFormat::fp8_e4m3 &&
      (config_id == kGemmCublasLtConfig || (config_id < 0 && m >= kFp8CublasLtMinM))) {
    auto lt = plan_fp8_cublaslt(w, m);
    if (lt.ok() || config_id == kGemmCublasLtConfig) return lt;  // by default, fall back to our kernel
  }
  const int id = config_id >= 0 ? config_id : default_config(m);
  if (id >= gemm::kConfigCount) return invalid_argument("plan_gemm: no GEMM configuration " + std::to_string(id));
  const gemm::KernelEntry& e = table_for(w)[id];
  GemmPlan plan{.config = e.config, .m = m};
  const GemmConfig& c = plan.config;
  plan.smem_bytes = static_cast<size_t>(c.stages) * c.block_m * 64 * c.chunks_per_stage * 2;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(e.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                     static_cast<int>(plan.smem_bytes)));
  int occupancy = 0, device = 0, sm_count = 0;
  MIXSERVE_CUDA_RETURN_IF_ERROR(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occupancy, e.kernel, c.warps * 32, plan.smem_bytes));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  if (occupancy < 1) return internal_error("plan_gemm: configuration " + std::to_string(id) + " cannot run on this GPU");
  plan.m_blocks = ceil_div(m, c.block_m);
  plan.n_blocks = ceil_div(w.n_pad, 16 * c.warps * c.warp_tiles);
  const int n_chunks = static_cast<int>(w.k_pad / 64);
  const bool counters_fit = static_cast<size_t>(plan.m_blocks) * plan.n_blocks * sizeof(int) <= kGemmCounterBytes;
  if (splits <= 0) {
    splits = counters_fit ? pick_splits(plan.m_blocks * plan.n_blocks, n_chunks, sm_count * occupancy,
                                        c.chunks_per_stage, c.block_m)
                          : 1;
  } else if (splits > 1 && !counters_fit) {
    return invalid_argument("plan_gemm: " + std::to_string(plan.m_blocks * plan.n_blocks) +
                            " output tiles are more than split-K's counter region holds; use splits = 1");
  }
  plan.chunks_per_split = ceil_div(n_chunks, std::min(splits, n_chunks));
  plan.splits = ceil_div(n_chunks, plan.chunks_per_split);
  if (plan.splits > 1) {
    plan.workspace_bytes =
        kGemmCounterBytes + static_cast<size_t>(plan.splits) * plan.m_blocks * c.block_m * w.n_pad * sizeof(float);
  }
  if (w.format == WeightFormat::fp8_e4m3) {
    place_fp8_activations(plan, std::max(plan.workspace_bytes, kGemmCounterBytes), w.k, 2);  // fp16 codes
  }
  return plan;
}

Status run_gemm(const GemmPlan& plan, const DeviceWeight& w, const GemmArgs& args) {
  const GemmConfig& c = plan.config;
  if (plan.workspace_bytes > 0 && (args.workspace == nullptr || args.workspace->bytes < plan.workspace_bytes)) {
    return invalid_argument("run_gemm: the plan needs " + std::to_string(plan.workspace_bytes) + " bytes of workspace");
  }
  const void* x = args.x;
  float* x_scales = nullptr;
  if (w.format == WeightFormat::fp8_e4m3) {
    uint8_t* ws = static_cast<uint8_t*>(args.workspace->data);
    void* codes = ws + plan.codes_offset;
    x_scales = reinterpret_cast<float*>(ws + plan.x_scales_offset);
    MIXSERVE_RETURN_IF_ERROR(quantize_activations_fp8(
        {.x = args.x, .act = w.act, .m = plan.m, .k = static_cast<int>(w.k), .codes = codes,
         .codes_stride = static_cast<int>(plan.lt ? w.k_pad : w.k),
         .layout = plan.lt ? Fp8CodeLayout::e4m3_bytes : Fp8CodeLayout::f16_values,
         .scales = x_scales},
        args.stream));
    if (plan.lt) {
      return run_fp8_lt(*plan.lt, {.w_codes = w.q, .w_scales = static_cast<const float*>(w.scales), .x_codes = codes,
                                   .x_scales = x_scales, .y = args.y, .workspace = ws + plan.lt_workspace_offset,
                                   .stream = args.stream});
    }
    x = codes;
  }
  const int m_pad = plan.m_blocks * c.block_m;
  int* counters = plan.splits > 1 ? static_cast<int*>(args.workspace->data) : nullptr;
  float* partials =
      plan.splits > 1 ? reinterpret_cast<float*>(static_cast<uint8_t*>(args.workspace->data) + kGemmCounterBytes)
                      : nullptr;
  gemm::WxA16Params p{.x = x, .q = static_cast<const uint4*>(w.q), .scales = w.scales, .token_scales = x_scales,
                      .y = args.y,
                      .partials = partials, .counters = counters, .m = plan.m, .n = static_cast<int>(w.n),
                      .k = static_cast<int>(w.k), .n_pad = static_cast<int>(w.n_pad), .m_pad = m_pad,
                      .n_chunks = static_cast<int>(w.k_pad / 64),
                      .n_groups_pad = w.group_size ? static_cast<int>(w.k_pad / w.group_size) : 0,
                      .group_size = w.group_size, .splits = plan.splits, .chunks_per_split = plan.chunks_per_split};
  const dim3 grid(plan.m_blocks, plan.n_blocks, plan.splits), block(c.warps * 32);
  void* kernel_args[] = {&p};
  MIXSERVE_CUDA_RETURN_IF_ERROR(
      cudaLaunchKernel(table_for(w)[c.id].kernel, grid, block, kernel_args, plan.smem_bytes, args.stream));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return {};
}

}  // namespace mixserve::cuda
