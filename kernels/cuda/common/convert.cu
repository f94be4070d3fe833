#include "kernels/cuda/common/convert.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace {

__global__ void narrow_kernel(const float* __restrict__ in, int n, uint16_t* __restrict__ fp16,
                              uint16_t* __restrict__ bf16, uint8_t* __restrict__ fp8) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = in[i];
  fp16[i] = __half_as_ushort(__float2half_rn(x));
  bf16[i] = __bfloat16_as_ushort(__float2bfloat16_rn(x));
  fp8[i] = static_cast<uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}

__global__ void widen_kernel(float* __restrict__ from_fp16, float* __restrict__ from_bf16,
                             float* __restrict__ from_fp8) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= 65536) return;
  from_fp16[i] = __half2float(__ushort_as_half(static_cast<unsigned short>(i)));
  from_bf16[i] = __bfloat162float(__ushort_as_bfloat16(static_cast<unsigned short>(i)));
  if (i < 256) {
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(i), __NV_E4M3);
    from_fp8[i] = __half2float(__half(h));
  }
}

// Device memory freed on every path.
template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  ~DeviceArray() { cudaFree(ptr); }
  Status allocate(size_t n) { return cuda_status(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc", __FILE__, __LINE__); }
};

}  // namespace

Result<ConvertedBits> convert_on_device(const std::vector<float>& input) {
  const int n = static_cast<int>(input.size());
  DeviceArray<float> d_in;
  DeviceArray<uint16_t> d_fp16, d_bf16;
  DeviceArray<uint8_t> d_fp8;
  MIXSERVE_RETURN_IF_ERROR(d_in.allocate(n));
  MIXSERVE_RETURN_IF_ERROR(d_fp16.allocate(n));
  MIXSERVE_RETURN_IF_ERROR(d_bf16.allocate(n));
  MIXSERVE_RETURN_IF_ERROR(d_fp8.allocate(n));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(d_in.ptr, input.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  narrow_kernel<<<(n + 255) / 256, 256>>>(d_in.ptr, n, d_fp16.ptr, d_bf16.ptr, d_fp8.ptr);
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  ConvertedBits out;
  out.fp16.resize(n);
  out.bf16.resize(n);
  out.fp8_e4m3.resize(n);
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.fp16.data(), d_fp16.ptr, n * 2, cudaMemcpyDeviceToHost));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.bf16.data(), d_bf16.ptr, n * 2, cudaMemcpyDeviceToHost));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.fp8_e4m3.data(), d_fp8.ptr, n, cudaMemcpyDeviceToHost));
  return out;
}

Result<WidenedValues> widen_all_on_device() {
  DeviceArray<float> d16, dbf, d8;
  MIXSERVE_RETURN_IF_ERROR(d16.allocate(65536));
  MIXSERVE_RETURN_IF_ERROR(dbf.allocate(65536));
  MIXSERVE_RETURN_IF_ERROR(d8.allocate(256));
  widen_kernel<<<65536 / 256, 256>>>(d16.ptr, dbf.ptr, d8.ptr);
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  WidenedValues out;
  out.from_fp16.resize(65536);
  out.from_bf16.resize(65536);
  out.from_fp8_e4m3.resize(256);
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.from_fp16.data(), d16.ptr, 65536 * 4, cudaMemcpyDeviceToHost));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.from_bf16.data(), dbf.ptr, 65536 * 4, cudaMemcpyDeviceToHost));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(out.from_fp8_e4m3.data(), d8.ptr, 256 * 4, cudaMemcpyDeviceToHost));
  return out;
}

}  // namespace mixserve::cuda
