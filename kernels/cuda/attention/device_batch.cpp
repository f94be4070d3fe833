#include "kernels/cuda/attention/device_batch.h"

#include <algorithm>
#include <utility>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {

DeviceBytes::~DeviceBytes() {
  if (ptr_) cudaFree(ptr_);  // nothing to report to from a destructor; cudaFree of a live pointer cannot fail
}
DeviceBytes::DeviceBytes(DeviceBytes&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
DeviceBytes& DeviceBytes::operator=(DeviceBytes&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Result<DeviceBytes> DeviceBytes::allocate(size_t bytes) {
  DeviceBytes b;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMalloc(&b.ptr_, std::max<size_t>(bytes, 16)));
  b.size_ = bytes;
  return b;
}

Result<DeviceBytes> DeviceBytes::upload(const void* host, size_t bytes) {
  MIXSERVE_ASSIGN_OR_RETURN(DeviceBytes b, allocate(bytes));
  if (bytes) MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(b.ptr_, host, bytes, cudaMemcpyHostToDevice));
  return b;
}

Status DeviceBytes::download(void* host, size_t bytes) const {
  if (bytes > size_) return invalid_argument("DeviceBytes::download: more bytes than the buffer holds");
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost));
  return {};
}

Result<DeviceBatch> DeviceBatch::upload(const std::vector<HostSequence>& seqs) {
  DeviceBatch b;
  std::vector<int32_t> start_pos, token_begin{0};
  size_t stride = 1;
  for (const HostSequence& s : seqs) stride = std::max(stride, s.block_table.size());
  std::vector<int32_t> tables(seqs.size() * stride, 0);
  PagedBatch& v = b.view_;
  for (size_t i = 0; i < seqs.size(); ++i) {
    start_pos.push_back(seqs[i].start_pos);
    token_begin.push_back(token_begin.back() + seqs[i].n_new);
    std::copy(seqs[i].block_table.begin(), seqs[i].block_table.end(), tables.begin() + i * stride);
    v.max_new = std::max(v.max_new, seqs[i].n_new);
    v.max_kv_len = std::max(v.max_kv_len, seqs[i].start_pos + seqs[i].n_new);
  }
  MIXSERVE_ASSIGN_OR_RETURN(b.start_pos_, upload_vector(start_pos));
  MIXSERVE_ASSIGN_OR_RETURN(b.token_begin_, upload_vector(token_begin));
  MIXSERVE_ASSIGN_OR_RETURN(b.tables_, upload_vector(tables));
  v.n_seqs = static_cast<int>(seqs.size());
  v.n_tokens = token_begin.back();
  v.start_pos = b.start_pos_.as<int32_t>();
  v.token_begin = b.token_begin_.as<int32_t>();
  v.block_tables = b.tables_.as<int32_t>();
  v.block_table_stride = static_cast<int>(stride);
  return b;
}

}  // namespace mixserve::cuda
