#include "worker/cuda/pinned_bytes.h"

#include <cuda_runtime.h>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {

PinnedBytes::~PinnedBytes() {
  if (ptr_) cudaFreeHost(ptr_);  // nothing to report to from a destructor
}

PinnedBytes& PinnedBytes::operator=(PinnedBytes&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFreeHost(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Result<PinnedBytes> PinnedBytes::allocate(size_t bytes) {
  PinnedBytes b;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMallocHost(&b.ptr_, bytes > 0 ? bytes : 16));
  b.size_ = bytes;
  return b;
}

}  // namespace mixserve::cuda
