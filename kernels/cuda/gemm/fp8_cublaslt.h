#pragma once
// fp8 W8A8 GEMMs on cuBLASLt: y[m][n] = s_x[m] * s_w[n] * sum_k x_codes[m][k] * w_codes[n][k], with the per-token
// and per-channel scales applied by cuBLASLt's "outer vector" scaling (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F).
//
// Why a library here: at large M the fp8 GEMM is compute-bound, and on sm_90 the peak needs wgmma + TMA
// warp-specialized kernels; cuBLASLt has them, and our mma.sync kernel reaches about a third of that rate
// (benchmarks/RESULTS.md). The weights stay in the layout our own kernel reads for small M (row-major e4m3,
// kernels/cuda/gemm/wxa16_kernel.cuh's Fp8Format), so one copy of the weights serves both paths.
//
// Availability is decided at run time: cuBLASLt answers the heuristic query with no algorithm on GPUs or
// library versions without fp8 outer-vector scaling, and find_fp8_lt_algo() then says `unsupported`.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "core/status.h"
#include "kernels/cuda/gemm/gemm.h"

namespace mixserve::cuda {

// Enough for cuBLASLt's fp8 kernels incl. split-K ones on the Llama-3-8B shapes; the heuristic skips any needing more.
inline constexpr size_t kFp8LtWorkspaceBytes = size_t{8} << 20;

struct Fp8LtAlgo;  // cuBLASLt's chosen algorithm for one (n, k_pad, m, output dtype)

// Cached per process (the heuristic query costs tens of microseconds). Thread-safe.
Result<std::shared_ptr<const Fp8LtAlgo>> find_fp8_lt_algo(int64_t n, int64_t k_pad, int m, ActDtype out);

struct Fp8LtArgs {
  const void* w_codes = nullptr;   // e4m3 [n][k_pad], 256-byte aligned
  const float* w_scales = nullptr; // [n]
  const void* x_codes = nullptr;   // e4m3 [m][k_pad], 256-byte aligned
  const float* x_scales = nullptr; // [m]
  void* y = nullptr;               // [m][n] fp16/bf16, 16-byte aligned
  void* workspace = nullptr;       // kFp8LtWorkspaceBytes
  cudaStream_t stream = nullptr;
};
Status run_fp8_lt(const Fp8LtAlgo& algo, const Fp8LtArgs& args);

}  // namespace mixserve::cuda
