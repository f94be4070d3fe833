#pragma once
// Owning device memory for attention's inputs: a typed buffer, and a PagedBatch built from host sequences
// (what the CUDA backend uploads once per step; tests and the benchmark use it the same way).
// Thread-safety: plain values; one owner.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "kernels/cuda/attention/attention.h"

namespace mixserve::cuda {

class DeviceBytes {
 public:
  DeviceBytes() = default;
  ~DeviceBytes();
  DeviceBytes(DeviceBytes&& other) noexcept;
  DeviceBytes& operator=(DeviceBytes&& other) noexcept;
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;

  static Result<DeviceBytes> allocate(size_t bytes);
  static Result<DeviceBytes> upload(const void* host, size_t bytes);
  Status download(void* host, size_t bytes) const;
  void* get() const { return ptr_; }
  size_t size() const { return size_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
Result<DeviceBytes> upload_vector(const std::vector<T>& v) {
  return DeviceBytes::upload(v.data(), v.size() * sizeof(T));
}

// One sequence of a batch, host side: n_new tokens at positions [start_pos, start_pos + n_new).
struct HostSequence {
  int n_new = 0;
  int start_pos = 0;
  std::vector<int32_t> block_table;  // covers [0, start_pos + n_new)
};

class DeviceBatch {
 public:
  static Result<DeviceBatch> upload(const std::vector<HostSequence>& seqs);
  const PagedBatch& view() const { return view_; }

 private:
  DeviceBytes start_pos_, token_begin_, tables_;
  PagedBatch view_;
};

}  // namespace mixserve::cuda
