#pragma once
// What the kernels size themselves by, read from the device rather than assumed.
#include <string>

#include "core/status.h"

namespace mixserve::cuda {

struct DeviceInfo {
  int device = 0;
  std::string name;
  int sm_major = 0;
  int sm_minor = 0;
  int sm_count = 0;
  size_t l2_bytes = 0;
  size_t shared_bytes_per_block_optin = 0;
  size_t global_bytes = 0;
};

Result<DeviceInfo> query_device(int device);
std::string to_string(const DeviceInfo& info);

}  // namespace mixserve::cuda
