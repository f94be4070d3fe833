#pragma once
// One step's attention batch in device memory: prepared once per step, read by every layer's attention
// (worker/cuda/cuda_attention.h). prepare() validates the host sequences (worker/backend.h AttentionSequence:
// rows in q/k/v/out, start position, block table) and puts them in the kernels' order: decode sequences
// (n_new == 1) first, then prefill chunks (n_new > 1), each group in the caller's order; sequences with
// n_new == 0 are left out. Sorted token r is the caller's row row_of[r]. Everything goes into one pinned buffer
// and reaches the device in one cudaMemcpyAsync:
//   start_pos [n_seqs] | token_begin [n_seqs + 1] | block_tables [n_seqs][stride] | row_of [n_tokens]   (int32)
// The three PagedBatch views share those arrays: all() (every sequence, for the fused RoPE + KV write),
// decodes() (its first n_decodes sequences, whose sorted rows are 0..n_decodes-1) and prefills() (the rest;
// their token_begin values are sorted rows, so the prefill kernel reads q and writes out at sorted rows).
//
// Reuse: prepare() waits (an event) until the previous step's copy has left the pinned buffer before refilling
// it; the device buffer is overwritten in stream order, after the previous step's kernels, which is why every
// layer of a step must run on stream(). When a step outgrows the buffers they are reallocated after a stream
// synchronization; reserve() sizes them up front so no step allocates.
// Thread-safety: one owner thread.
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/cuda/attention/attention.h"
#include "kernels/cuda/attention/device_batch.h"
#include "kernels/formats/kv_format.h"
#include "worker/backend.h"
#include "worker/cuda/pinned_bytes.h"

namespace mixserve {

class CudaAttentionStep {
 public:
  static Result<std::unique_ptr<CudaAttentionStep>> create(cudaStream_t stream);
  ~CudaAttentionStep();
  CudaAttentionStep(const CudaAttentionStep&) = delete;
  CudaAttentionStep& operator=(const CudaAttentionStep&) = delete;

  Status reserve(int64_t n_seqs, int64_t n_tokens, int64_t max_blocks_per_seq);
  // n_rows: rows of the caller's q/k/v/out buffers (every sequence's rows must lie inside, none twice).
  // pools: the layout of the pools this step's layers use (block_size; block ids must be < n_blocks).
  Status prepare(std::span<const AttentionSequence> sequences, int64_t n_rows, const KvPoolLayout& pools);

  const cuda::PagedBatch& all() const { return all_; }
  const cuda::PagedBatch& decodes() const { return decodes_; }
  const cuda::PagedBatch& prefills() const { return prefills_; }
  const int32_t* row_of() const { return row_of_; }  // device [n_tokens]
  bool rows_in_order() const { return rows_in_order_; }  // row_of[r] == r for every r
  int n_tokens() const { return all_.n_tokens; }
  int block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  cudaStream_t stream() const { return stream_; }

 private:
  CudaAttentionStep() = default;
  Status ensure_capacity(size_t n_ints);
  void set_views(std::span<const AttentionSequence> seqs, const std::vector<size_t>& order, int n_decodes,
                 int64_t stride);

  cudaStream_t stream_ = nullptr;
  cudaEvent_t copied_ = nullptr;  // recorded after each upload: the pinned buffer is free again
  bool copy_pending_ = false;
  cuda::PinnedBytes pinned_;
  cuda::DeviceBytes device_;
  size_t capacity_ints_ = 0;

  cuda::PagedBatch all_, decodes_, prefills_;
  const int32_t* row_of_ = nullptr;
  bool rows_in_order_ = true;
  int block_size_ = 0;
  int64_t n_blocks_ = 0;
};

}  // namespace mixserve
