#pragma once
// A cudaMalloc'ed buffer for GPU tests, freed at scope end; an allocation failure fails the test.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>

namespace mixserve::test {

struct DeviceMemory {
  void* ptr = nullptr;
  explicit DeviceMemory(size_t bytes) { EXPECT_EQ(cudaMalloc(&ptr, bytes), cudaSuccess); }
  ~DeviceMemory() { cudaFree(ptr); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

}  // namespace mixserve::test
