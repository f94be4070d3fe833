// int4 (W4A16) instantiations for groups of 64 and 128: one translation unit per format keeps each nvcc run short.
#include "kernels/cuda/gemm/kernel_configs.cuh"

namespace mixserve::cuda::gemm {

const KernelEntry* int4_wide_group_kernels(ActDtype act) {
  return act == ActDtype::bf16 ? make_table<Int4Format<true>, __nv_bfloat16>() : make_table<Int4Format<true>, __half>();
}

}  // namespace mixserve::cuda::gemm
