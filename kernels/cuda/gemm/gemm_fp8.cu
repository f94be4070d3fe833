// fp8 e4m3 (W8A8) instantiations of the tensor-core kernel: x is always fp16 codes, y fp16 or bf16.
#include "kernels/cuda/gemm/kernel_configs.cuh"

namespace mixserve::cuda::gemm {

const KernelEntry* fp8_kernels(ActDtype out) {
  return out == ActDtype::bf16 ? make_table<Fp8Format, __half, __nv_bfloat16>() : make_table<Fp8Format, __half>();
}

}  // namespace mixserve::cuda::gemm
