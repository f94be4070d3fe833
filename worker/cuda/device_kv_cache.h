#pragma once
// The paged KV cache in device memory: per layer a K pool and a V pool with exactly the layout of
// kernels/formats/kv_format.h and of worker/kv_cache.h's KvCache (the same KvCacheOptions and pool layouts, data
// and params in separate arrays), so a pool downloaded with download_kv_pool() is a valid KvPoolView for the CPU
// reference. Memory starts zeroed. fp32 pools are refused: the GPU kernels do not read them.
// Thread-safety: the views are plain values; the memory is written by the kernels on the owner's stream.
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/formats/kv_format.h"
#include "worker/kv_cache.h"

namespace mixserve {

class DeviceKvCache {
 public:
  static Result<DeviceKvCache> create(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads, int head_dim);

  const KvPoolView& k_pool(int64_t layer) const { return k_pools_[layer]; }
  const KvPoolView& v_pool(int64_t layer) const { return v_pools_[layer]; }
  int64_t n_layers() const { return static_cast<int64_t>(k_pools_.size()); }
  const KvCacheOptions& options() const { return options_; }
  size_t bytes() const { return bytes_; }

 private:
  KvCacheOptions options_;
  std::vector<cuda::DeviceBytes> storage_;
  std::vector<KvPoolView> k_pools_;
  std::vector<KvPoolView> v_pools_;
  size_t bytes_ = 0;
};

// A host copy of one device pool; view() is a KvPoolView over it for the CPU reference.
class HostKvPool {
 public:
  KvPoolView view() {
    return {.layout = layout_, .data = data_.data(), .params = params_.empty() ? nullptr : params_.data(),
            .fp8_scale = fp8_scale_};
  }
  const std::vector<uint8_t>& data() const { return data_; }
  const std::vector<uint16_t>& params() const { return params_; }

 private:
  friend Result<HostKvPool> download_kv_pool(const KvPoolView& device_pool);
  KvPoolLayout layout_;
  float fp8_scale_ = 1.0f;
  std::vector<uint8_t> data_;
  std::vector<uint16_t> params_;
};

// Copies a device pool to the host (synchronous: waits for the device).
Result<HostKvPool> download_kv_pool(const KvPoolView& device_pool);

}  // namespace mixserve
