#pragma once
// CUDA attention over the paged KV cache (layout: kernels/formats/kv_format.h), three launches per layer:
//   rope_kv_write:  RoPE on Q and K in place, K and V quantized into their cache blocks (one fused kernel).
//   paged_prefill:  causal flash attention for new tokens that read earlier context from the cache.
//   paged_decode:   one query token per sequence, split over the KV length (flash-decoding) + a reduction.
// Activations (qkv, q, out) are fp16; scores, softmax state and accumulators are fp32. K and V each take any
// of f16, bf16, fp8_e4m3, int8, int4; head_dim 64 or 128; every K x V pair is instantiated (dispatch tables in
// the .cu files return an error naming an unsupported combination). Host-side plan, device-side run: planning
// sizes the split and the workspace; launching never allocates.
// Thread-safety: the functions are stateless; concurrent calls on different streams are safe.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "kernels/formats/kv_format.h"

namespace mixserve::cuda {

// A batch of sequences in device memory. Sequence i owns q/out rows [token_begin[i], token_begin[i+1]) (its
// n_new tokens at positions start_pos[i] ..), and its KV positions [0, start_pos[i] + n_new) live in the blocks
// listed by block_tables[i * block_table_stride ..].
struct PagedBatch {
  int n_seqs = 0;
  int n_tokens = 0;                     // token_begin[n_seqs]
  const int32_t* start_pos = nullptr;   // [n_seqs]
  const int32_t* token_begin = nullptr; // [n_seqs + 1]
  const int32_t* block_tables = nullptr;  // [n_seqs][block_table_stride]
  int block_table_stride = 0;
  // Host-side maxima, for grid sizing only (the kernels read the exact values from the arrays above).
  int max_new = 0;     // max n_new
  int max_kv_len = 0;  // max start_pos + n_new
};

// qkv rows are [q: n_q_heads][k: n_kv_heads][v: n_kv_heads] x head_dim fp16 values, row r at qkv + r * row_stride.
// Q and K are rotated in place (rounded to fp16); K and V are quantized from the fp32 rotated values exactly as
// kv_write_row does on the CPU, so the cache bytes are identical to the reference's.
struct RopeKvWriteParams {
  __half* qkv = nullptr;
  int64_t row_stride = 0;         // elements between consecutive tokens
  int n_q_heads = 0;
  const float* inv_freq = nullptr;  // [head_dim / 2], device; cpu::rope_inv_freq (llama3 scaling included)
  PagedBatch batch;
  KvPoolView k_pool;              // device pointers
  KvPoolView v_pool;
};
Status rope_kv_write(const RopeKvWriteParams& p, cudaStream_t stream);

struct AttentionParams {
  const __half* q = nullptr;  // row r (a token) at q + r * q_row_stride: [n_q_heads][head_dim]
  int64_t q_row_stride = 0;
  __half* out = nullptr;      // [n_tokens][n_q_heads][head_dim], dense
  int n_q_heads = 0;
  float softmax_scale = 0;
  PagedBatch batch;
  KvPoolView k_pool;
  KvPoolView v_pool;
};

// Prefill (any n_new per sequence, causal). Reads every key, the new ones included, from the cache: call
// rope_kv_write first. Rows of one CTA are (token, query head of the group) pairs of one KV head.
Status paged_prefill(const AttentionParams& p, cudaStream_t stream);

// Decode: n_new == 1 for every sequence. The split over the KV length is planned from the batch's shape.
struct DecodePlan {
  int n_splits = 1;
  int chunk_tokens = 0;        // KV positions per split, a multiple of the 64-token stage
  size_t workspace_bytes = 0;  // partial outputs and log-sum-exps; 0 when n_splits == 1
};
Result<DecodePlan> plan_decode(const AttentionParams& p, int sm_count);
Status paged_decode(const AttentionParams& p, const DecodePlan& plan, void* workspace, cudaStream_t stream);

}  // namespace mixserve::cuda
