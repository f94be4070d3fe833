#pragma once
// The compiled tile configurations of the weight-only GEMM, one table per (format, activation dtype).
// Listed explicitly: plan_gemm() fails with a message for anything not here.
#include "kernels/cuda/gemm/gemm.h"

namespace mixserve::cuda::gemm {

struct KernelEntry {
  const void* kernel;  // __global__ void(WxA16Params)
  GemmConfig config;
};

constexpr int kConfigCount = 7;
// Entries indexed by GemmConfig::id; defined in gemm_int4.cu (groups 64, 128), gemm_int4_g32.cu, gemm_int8.cu
// and gemm_fp8.cu.
const KernelEntry* int4_wide_group_kernels(ActDtype act);
const KernelEntry* int4_group32_kernels(ActDtype act);
const KernelEntry* int8_kernels(ActDtype act);
const KernelEntry* fp8_kernels(ActDtype out);

}  // namespace mixserve::cuda::gemm
