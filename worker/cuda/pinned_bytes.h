#pragma once
// Page-locked host memory (cudaMallocHost): the staging side of asynchronous host-to-device copies.
// Thread-safety: a plain owner.
#include <cstddef>
#include <utility>

#include "core/status.h"

namespace mixserve::cuda {

class PinnedBytes {
 public:
  PinnedBytes() = default;
  ~PinnedBytes();
  PinnedBytes(PinnedBytes&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PinnedBytes& operator=(PinnedBytes&& other) noexcept;
  PinnedBytes(const PinnedBytes&) = delete;
  PinnedBytes& operator=(const PinnedBytes&) = delete;

  static Result<PinnedBytes> allocate(size_t bytes);
  void* get() const { return ptr_; }
  size_t size() const { return size_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mixserve::cuda
