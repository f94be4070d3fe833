#include "worker/cuda/cuda_attention_step.h"

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve {
namespace {

int64_t blocks_for(int64_t kv_len, int block_size) { return (kv_len + block_size - 1) / block_size; }

std::string seq_name(size_t i) { return "attention step: sequence " + std::to_string(i); }

// Everything the kernels would otherwise turn into out-of-bounds accesses or races: rows inside the caller's
// buffers and claimed once, block ids inside the pools, positions and counts inside int32.
Status validate(std::span<const AttentionSequence> seqs, int64_t n_rows, const KvPoolLayout& pools) {
  if (pools.block_size <= 0 || (pools.block_size & (pools.block_size - 1)) != 0)
    return invalid_argument("attention step: block_size must be a power of two, got " +
                            std::to_string(pools.block_size));
  if (n_rows < 0) return invalid_argument("attention step: n_rows < 0");
  std::vector<uint8_t> claimed(static_cast<size_t>(n_rows), 0);
  int64_t n_tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const AttentionSequence& s = seqs[i];
    if (s.n_new < 0 || s.start_pos < 0 || s.token_offset < 0)
      return invalid_argument(seq_name(i) + ": negative n_new, start_pos or token_offset");
    if (s.n_new == 0) continue;
    if (s.token_offset + s.n_new > n_rows)
      return invalid_argument(seq_name(i) + ": rows [" + std::to_string(s.token_offset) + ", " +
                              std::to_string(s.token_offset + s.n_new) + ") outside the " + std::to_string(n_rows) +
                              " rows of the batch");
    if (s.start_pos + s.n_new > INT_MAX) return invalid_argument(seq_name(i) + ": position beyond int32");
    if (s.block_table == nullptr) return invalid_argument(seq_name(i) + ": no block table");
    for (int64_t b = 0; b < blocks_for(s.start_pos + s.n_new, pools.block_size); ++b) {
      if (s.block_table[b] < 0 || s.block_table[b] >= pools.n_blocks)
        return invalid_argument(seq_name(i) + ": block id " + std::to_string(s.block_table[b]) + " outside the " +
                                std::to_string(pools.n_blocks) + " blocks of the pool");
    }
    for (int64_t r = s.token_offset; r < s.token_offset + s.n_new; ++r) {
      if (claimed[r]) return invalid_argument(seq_name(i) + ": row " + std::to_string(r) + " is claimed twice");
      claimed[r] = 1;
    }
    n_tokens += s.n_new;
  }
  if (n_tokens > INT_MAX) return invalid_argument("attention step: more than 2^31 tokens");
  return {};
}

}  // namespace

Result<std::unique_ptr<CudaAttentionStep>> CudaAttentionStep::create(cudaStream_t stream) {
  std::unique_ptr<CudaAttentionStep> step(new CudaAttentionStep());
  step->stream_ = stream;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&step->copied_, cudaEventDisableTiming));
  return step;
}

CudaAttentionStep::~CudaAttentionStep() {
  // The pinned buffer may still be the source of a copy and the device buffer may still be read by kernels:
  // let the stream drain before the buffers go (errors have no one to report to here).
  if (copied_) {
    cudaStreamSynchronize(stream_);
    cudaEventDestroy(copied_);
  }
}

Status CudaAttentionStep::reserve(int64_t n_seqs, int64_t n_tokens, int64_t max_blocks_per_seq) {
  if (n_seqs < 0 || n_tokens < 0 || max_blocks_per_seq < 0) return invalid_argument("reserve: negative size");
  return ensure_capacity(static_cast<size_t>(n_seqs * (2 + std::max<int64_t>(1, max_blocks_per_seq)) + 1 + n_tokens));
}

Status CudaAttentionStep::ensure_capacity(size_t n_ints) {
  if (n_ints <= capacity_ints_) return {};
  // Earlier steps' kernels may still read the device buffer and their copy may still read the pinned one.
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  copy_pending_ = false;
  const size_t capacity = std::max(n_ints, 2 * capacity_ints_);
  MIXSERVE_ASSIGN_OR_RETURN(pinned_, cuda::PinnedBytes::allocate(capacity * sizeof(int32_t)));
  MIXSERVE_ASSIGN_OR_RETURN(device_, cuda::DeviceBytes::allocate(capacity * sizeof(int32_t)));
  capacity_ints_ = capacity;
  return {};
}

Status CudaAttentionStep::prepare(std::span<const AttentionSequence> seqs, int64_t n_rows, const KvPoolLayout& pools) {
  MIXSERVE_RETURN_IF_ERROR(validate(seqs, n_rows, pools));
  block_size_ = pools.block_size;
  n_blocks_ = pools.n_blocks;
  std::vector<size_t> order;  // decodes, then prefills
  for (size_t i = 0; i < seqs.size(); ++i) if (seqs[i].n_new == 1) order.push_back(i);
  const int n_decodes = static_cast<int>(order.size());
  for (size_t i = 0; i < seqs.size(); ++i) if (seqs[i].n_new > 1) order.push_back(i);
  const int n_seqs = static_cast<int>(order.size());
  int64_t n_tokens = 0, stride = 1;
  for (size_t i : order) {
    n_tokens += seqs[i].n_new;
    stride = std::max(stride, blocks_for(seqs[i].start_pos + seqs[i].n_new, block_size_));
  }
  all_ = decodes_ = prefills_ = cuda::PagedBatch{};
  row_of_ = nullptr;
  rows_in_order_ = true;
  if (n_seqs == 0) return {};

  const size_t n_ints = static_cast<size_t>(n_seqs * (2 + stride) + 1 + n_tokens);
  MIXSERVE_RETURN_IF_ERROR(ensure_capacity(n_ints));
  if (copy_pending_) MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(copied_));
  copy_pending_ = false;
  int32_t* h_start = pinned_.as<int32_t>();          // [n_seqs]
  int32_t* h_begin = h_start + n_seqs;               // [n_seqs + 1]
  int32_t* h_tables = h_begin + n_seqs + 1;          // [n_seqs][stride]
  int32_t* h_rows = h_tables + n_seqs * stride;      // [n_tokens]
  h_begin[0] = 0;
  for (int j = 0; j < n_seqs; ++j) {
    const AttentionSequence& s = seqs[order[j]];
    const int64_t n_table = blocks_for(s.start_pos + s.n_new, block_size_);
    h_start[j] = static_cast<int32_t>(s.start_pos);
    h_begin[j + 1] = h_begin[j] + static_cast<int32_t>(s.n_new);
    std::copy(s.block_table, s.block_table + n_table, h_tables + j * stride);
    std::fill(h_tables + j * stride + n_table, h_tables + (j + 1) * stride, 0);
    for (int64_t t = 0; t < s.n_new; ++t) {
      h_rows[h_begin[j] + t] = static_cast<int32_t>(s.token_offset + t);
      rows_in_order_ = rows_in_order_ && s.token_offset + t == h_begin[j] + t;
    }
  }
  MIXSERVE_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(device_.get(), pinned_.get(), n_ints * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventRecord(copied_, stream_));
  copy_pending_ = true;

  set_views(seqs, order, n_decodes, stride);
  return {};
}

// The three PagedBatch views over the uploaded arrays, with their host-side maxima for grid sizing.
void CudaAttentionStep::set_views(std::span<const AttentionSequence> seqs, const std::vector<size_t>& order,
                                  int n_decodes, int64_t stride) {
  const int n_seqs = static_cast<int>(order.size());
  int64_t n_tokens = 0;
  for (size_t i : order) n_tokens += seqs[i].n_new;
  const int32_t* d_start = device_.as<int32_t>();
  const int32_t* d_begin = d_start + n_seqs;
  const int32_t* d_tables = d_begin + n_seqs + 1;
  row_of_ = d_tables + n_seqs * stride;
  all_ = {.n_seqs = n_seqs, .n_tokens = static_cast<int>(n_tokens), .start_pos = d_start, .token_begin = d_begin,
          .block_tables = d_tables, .block_table_stride = static_cast<int>(stride)};
  decodes_ = all_;
  decodes_.n_seqs = n_decodes;
  decodes_.n_tokens = n_decodes;
  prefills_ = all_;
  prefills_.n_seqs = n_seqs - n_decodes;
  prefills_.start_pos = d_start + n_decodes;
  prefills_.token_begin = d_begin + n_decodes;
  prefills_.block_tables = d_tables + static_cast<int64_t>(n_decodes) * stride;
  for (int j = 0; j < n_seqs; ++j) {
    const AttentionSequence& s = seqs[order[j]];
    cuda::PagedBatch& part = j < n_decodes ? decodes_ : prefills_;
    for (cuda::PagedBatch* b : {&all_, &part}) {
      b->max_new = std::max(b->max_new, static_cast<int>(s.n_new));
      b->max_kv_len = std::max(b->max_kv_len, static_cast<int>(s.start_pos + s.n_new));
    }
  }
}

}  // namespace mixserve
