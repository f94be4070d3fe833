// int4 (W4A16) instantiations for groups of 32, whose 64-column chunks span two groups.
#include "kernels/cuda/gemm/kernel_configs.cuh"

namespace mixserve::cuda::gemm {

const KernelEntry* int4_group32_kernels(ActDtype act) {
  return act == ActDtype::bf16 ? make_table<Int4Format<false>, __nv_bfloat16>() : make_table<Int4Format<false>, __half>();
}

}  // namespace mixserve::cuda::gemm
