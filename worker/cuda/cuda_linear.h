#pragma once
// The CUDA backend's linear op: y = x W^T (+ bias), x [m][k] and y [m][n] fp16 or bf16 in device memory, any m.
//
// A CudaLinearWeight is made once, at load, from the QuantizedWeight the worker's loader hands to
// Backend::load_linear (worker/model_weights.h: one tensor-parallel rank's shard, row-major):
//   int4 (group 32/64/128) and int8: packed into WeightLayout::mma_v1 on the host (kept as is when already
//     packed) and uploaded with its scale array for one activation dtype; run by kernels/cuda/gemm (W4A16/W8A16
//     on mma.sync, split-K for small m). k must be a multiple of 8 (the kernel reads 16-byte rows of x).
//   fp8 e4m3 (W8A8): uploaded row-major; each run quantizes x per token into the GEMM workspace and runs our
//     kernel on the codes (small m) or cuBLASLt's fp8 GEMM (large m, sm_90). A large m whose quantized
//     activations do not fit the workspace runs in row slices that do.
//   f16 / bf16 (dense): uploaded as they are and run by cuBLAS (cublasGemmEx, fp32 accumulation). The weight's
//     dtype must be the activation dtype: cuBLAS has no fp16 x bf16 GEMM, and converting would change values.
//   f32: unsupported (quantize it, or load the checkpoint as fp16/bf16).
// The bias is kept in fp32 and added by a second kernel: y = round(round(x W^T) + b).
//
// CudaLinearContext holds what runs share: the stream, the GEMM's split-K workspace, the cuBLAS handle and its
// workspace, and optionally a tuning cache whose choices replace plan_gemm's defaults. Runs never allocate. A
// split-K plan that needs more workspace than the context has is re-planned with fewer splits (down to 1, which
// needs none), so any workspace size is correct; the size only bounds speed.
// Thread-safety: a context belongs to one thread (the executor's) and its stream; weights are immutable after
// create() and may be shared.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "core/status.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/cuda/gemm/gemm.h"
#include "kernels/cuda/gemm/gemm_tuner.h"
#include "kernels/formats/weight_format.h"
#include "worker/backend.h"

namespace mixserve {

class CudaLinearWeight final : public LinearWeight {
 public:
  // bias: empty or [n].
  static Result<std::unique_ptr<CudaLinearWeight>> create(const QuantizedWeight& weight, std::span<const float> bias,
                                                          cuda::ActDtype act);
  int64_t n() const override { return n_; }
  int64_t k() const override { return k_; }
  size_t bytes() const override;
  WeightFormat format() const { return format_; }
  cuda::ActDtype act() const { return act_; }
  bool uses_gemm_kernels() const { return packed_.has_value(); }  // int4/int8/fp8; otherwise cuBLAS
  // The packed weight the GEMM kernels run (tuning keys, tests); null for cuBLAS weights.
  const cuda::DeviceWeight* device_weight() const { return packed_ ? &*packed_ : nullptr; }

 private:
  friend class CudaLinearContext;
  CudaLinearWeight() = default;

  WeightFormat format_ = WeightFormat::f16;
  cuda::ActDtype act_ = cuda::ActDtype::f16;
  int64_t n_ = 0, k_ = 0;
  std::optional<cuda::DeviceWeight> packed_;  // int4 / int8 / fp8
  cuda::DeviceBytes dense_;                   // f16 / bf16: [n][k]
  cuda::DeviceBytes bias_;                    // fp32 [n], or empty
};

class CudaLinearContext {
 public:
  static constexpr size_t kDefaultGemmWorkspaceBytes = 64u << 20;
  static constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // what NVIDIA recommends for Hopper

  static Result<std::unique_ptr<CudaLinearContext>> create(cudaStream_t stream,
                                                           size_t gemm_workspace_bytes = kDefaultGemmWorkspaceBytes);
  ~CudaLinearContext();
  CudaLinearContext(const CudaLinearContext&) = delete;
  CudaLinearContext& operator=(const CudaLinearContext&) = delete;

  // y = x W^T (+ bias) on the context's stream. x and y are w.act() values; x 16-byte aligned for int4/int8.
  Status run(const CudaLinearWeight& w, const void* x, int64_t m, void* y);
  // The GEMM plan run() would use for this weight and m (tests, logs); cuBLAS weights have none.
  Result<cuda::GemmPlan> gemm_plan(const CudaLinearWeight& w, int64_t m) const;
  cudaStream_t stream() const { return stream_; }
  // Plans come from this cache's tuned choices where it has one for (weight, M bucket), plan_gemm's defaults
  // otherwise (kernels/cuda/gemm/gemm_tuner.h). Null: defaults only.
  void set_tune_cache(std::shared_ptr<const cuda::GemmTuneCache> cache) { tune_cache_ = std::move(cache); }

 private:
  CudaLinearContext() = default;
  Status run_packed(const CudaLinearWeight& w, const void* x, int m, void* y);
  Status run_dense(const CudaLinearWeight& w, const void* x, int m, void* y);

  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cuda::DeviceBytes cublas_workspace_;
  cuda::GemmWorkspace gemm_workspace_;
  std::shared_ptr<const cuda::GemmTuneCache> tune_cache_;
};

}  // namespace mixserve
