#include "worker/cuda/device_kv_cache.h"

#include <string>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve {
namespace {

Result<cuda::DeviceBytes> zeroed(size_t bytes) {
  MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes b, cuda::DeviceBytes::allocate(bytes));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemset(b.get(), 0, bytes));
  return b;
}

}  // namespace

Result<DeviceKvCache> DeviceKvCache::create(const KvCacheOptions& options, int64_t n_layers, int n_kv_heads,
                                            int head_dim) {
  if (options.block_size <= 0 || (options.block_size & (options.block_size - 1)) != 0)
    return invalid_argument("DeviceKvCache: block_size must be a power of two, got " +
                            std::to_string(options.block_size));
  if (options.n_blocks <= 0 || n_layers <= 0 || n_kv_heads <= 0 || head_dim <= 0)
    return invalid_argument("DeviceKvCache: n_blocks, n_layers, n_kv_heads and head_dim must be positive");
  for (KvFormat f : {options.k_format, options.v_format}) {
    if (f == KvFormat::f32) return unsupported("DeviceKvCache: the fp32 KV cache is CPU-only");
  }
  DeviceKvCache cache;
  cache.options_ = options;
  auto make_pool = [&](KvFormat format) -> Result<KvPoolView> {
    KvPoolView view{.layout = {.n_blocks = options.n_blocks, .block_size = options.block_size,
                               .n_kv_heads = n_kv_heads, .head_dim = head_dim, .format = format}};
    MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes data, zeroed(view.layout.data_bytes()));
    view.data = data.as<uint8_t>();
    cache.storage_.push_back(std::move(data));
    cache.bytes_ += view.layout.data_bytes();
    if (kv_format_has_params(format)) {
      const size_t bytes = view.layout.param_count() * sizeof(uint16_t);
      MIXSERVE_ASSIGN_OR_RETURN(cuda::DeviceBytes params, zeroed(bytes));
      view.params = params.as<uint16_t>();
      cache.storage_.push_back(std::move(params));
      cache.bytes_ += bytes;
    }
    return view;
  };
  for (int64_t l = 0; l < n_layers; ++l) {
    MIXSERVE_ASSIGN_OR_RETURN(KvPoolView k, make_pool(options.k_format));
    MIXSERVE_ASSIGN_OR_RETURN(KvPoolView v, make_pool(options.v_format));
    cache.k_pools_.push_back(k);
    cache.v_pools_.push_back(v);
  }
  return cache;
}

Result<HostKvPool> download_kv_pool(const KvPoolView& pool) {
  HostKvPool host;
  host.layout_ = pool.layout;
  host.fp8_scale_ = pool.fp8_scale;
  host.data_.resize(pool.layout.data_bytes());
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(host.data_.data(), pool.data, host.data_.size(), cudaMemcpyDeviceToHost));
  if (kv_format_has_params(pool.layout.format)) {
    host.params_.resize(pool.layout.param_count());
    MIXSERVE_CUDA_RETURN_IF_ERROR(
        cudaMemcpy(host.params_.data(), pool.params, host.params_.size() * sizeof(uint16_t), cudaMemcpyDeviceToHost));
  }
  return host;
}

}  // namespace mixserve
