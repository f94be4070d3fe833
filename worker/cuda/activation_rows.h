#pragma once
// Small row kernels around the CUDA ops: copying rows of fp16/bf16 activations with a row map and a dtype
// conversion (the attention op's gather into its fp16 staging and scatter back), and adding a bias to a linear's
// output. Launch-and-return on a stream; no allocation.
// Thread-safety: stateless.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/gemm/gemm.h"

namespace mixserve::cuda {

// dst row r = convert(src row src_rows[r]) written at dst row dst_rows[r], for r in [0, n_rows), `cols` elements
// each. A null row map means the identity. Same dtype: an exact copy. bf16 -> fp16: round to nearest even and
// saturate finite values beyond +-65504 (NaN stays NaN). fp16 -> bf16: round to nearest even.
struct RowCopyParams {
  const void* src = nullptr;
  ActDtype src_dtype = ActDtype::f16;
  int64_t src_stride = 0;                // elements between rows
  const int32_t* src_rows = nullptr;     // [n_rows], device; nullptr: r
  void* dst = nullptr;
  ActDtype dst_dtype = ActDtype::f16;
  int64_t dst_stride = 0;
  const int32_t* dst_rows = nullptr;     // [n_rows], device; nullptr: r
  int64_t n_rows = 0;
  int64_t cols = 0;
};
Status copy_rows(const RowCopyParams& p, cudaStream_t stream);

// y[m][n] += bias[n] in fp32, rounded once to y's dtype.
struct BiasAddParams {
  void* y = nullptr;  // [m][n], dense
  ActDtype dtype = ActDtype::f16;
  const float* bias = nullptr;  // [n], device
  int64_t m = 0;
  int64_t n = 0;
};
Status add_bias(const BiasAddParams& p, cudaStream_t stream);

}  // namespace mixserve::cuda
