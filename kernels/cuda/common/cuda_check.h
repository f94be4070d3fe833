#pragma once
// Every CUDA runtime call and launch is checked; a failure becomes a Status naming the call and its place.
#include <cuda_runtime.h>

#include <string>

#include "core/status.h"

namespace mixserve::cuda {

inline Status cuda_status(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return {};
  return internal_error(std::string(what) + " failed at " + file + ":" + std::to_string(line) + ": " +
                        cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace mixserve::cuda

#define MIXSERVE_CUDA_RETURN_IF_ERROR(call) \
  MIXSERVE_RETURN_IF_ERROR(::mixserve::cuda::cuda_status((call), #call, __FILE__, __LINE__))
