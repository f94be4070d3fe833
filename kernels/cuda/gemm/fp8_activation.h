#pragma once
// The per-token dynamic activation quantization of W8A8 fp8, bit for bit the CPU reference's
// round_activations_to_fp8 (kernels/formats/weight_format.h): for each row i of x, s[i] = amax(row) / 448 and
// code = e4m3(x / s[i]) with saturation (s[i] = 0 and all codes 0 for an all-zero row).
//
// Codes are written in the layout the GEMM that consumes them reads: fp16 values of the codes (exact; the
// tensor-core kernel's x, kernels/cuda/gemm/wxa16_kernel.cuh) or e4m3 bytes (cuBLASLt). Columns
// [k, codes_stride) of each row are written as zeros, so a padded GEMM reads zeros there.
#include <cuda_runtime.h>

#include "core/status.h"
#include "kernels/cuda/gemm/gemm.h"

namespace mixserve::cuda {

enum class Fp8CodeLayout { f16_values, e4m3_bytes };

struct Fp8ActivationArgs {
  const void* x = nullptr;  // [m][k] in `act`, rows 16-byte aligned (k % 8 == 0)
  ActDtype act = ActDtype::f16;
  int m = 0, k = 0;
  void* codes = nullptr;    // [m][codes_stride] in `layout`
  int codes_stride = 0;     // >= k, a multiple of 8
  Fp8CodeLayout layout = Fp8CodeLayout::f16_values;
  float* scales = nullptr;  // [m]
};

Status quantize_activations_fp8(const Fp8ActivationArgs& args, cudaStream_t stream);

}  // namespace mixserve::cuda
