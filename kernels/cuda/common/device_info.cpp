#include "kernels/cuda/common/device_info.h"

#include <sstream>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {

Result<DeviceInfo> query_device(int device) {
  cudaDeviceProp prop{};
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  DeviceInfo info;
  info.device = device;
  info.name = prop.name;
  info.sm_major = prop.major;
  info.sm_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.l2_bytes = prop.l2CacheSize;
  info.shared_bytes_per_block_optin = prop.sharedMemPerBlockOptin;
  info.global_bytes = prop.totalGlobalMem;
  return info;
}

std::string to_string(const DeviceInfo& info) {
  std::ostringstream os;
  os << "GPU " << info.device << ": " << info.name << " sm_" << info.sm_major << info.sm_minor << ", "
     << info.sm_count << " SMs, L2 " << (info.l2_bytes >> 20) << " MiB, smem/block " << (info.shared_bytes_per_block_optin >> 10)
     << " KiB, " << (info.global_bytes >> 30) << " GiB";
  return os.str();
}

}  // namespace mixserve::cuda
