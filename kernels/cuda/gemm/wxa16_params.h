#pragma once
// Parameters of the weight-only GEMM kernel (wxa16_kernel.cuh), built on the host by run_gemm().
#include <vector_types.h>

#include <cstdint>

namespace mixserve::cuda::gemm {

struct WxA16Params {
  const void* x;        // [m][k] T
  const uint4* q;       // W: int4/int8 packed (kernels/formats/packed_weight.h); fp8 row-major [n_pad][k_pad]
  const void* scales;   // int4: uint2 [n_tiles][n_groups_pad][8] of {s_g, s_g+8, zz_g, zz_g+8} in T;
                        // int8, fp8: float [n_pad]
  const float* token_scales;  // fp8: [m], the activations' per-token scales; otherwise unused
  void* y;              // [m][n] TY
  float* partials;      // [splits][m_pad][n_pad] fp32 (splits > 1)
  int* counters;        // [m_blocks][n_blocks] (splits > 1)
  int m, n, k;
  int n_pad, m_pad;
  int n_chunks;         // k_pad / 64
  int n_groups_pad;     // k_pad / group_size (int4)
  int group_size;
  int splits, chunks_per_split;
};

}  // namespace mixserve::cuda::gemm
