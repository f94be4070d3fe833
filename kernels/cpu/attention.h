#pragma once
// Causal attention over the paged KV cache, for a batch mixing prefill chunks and decode steps.
// Each sequence brings n_new query tokens at positions [start_pos, start_pos + n_new); the cache already
// holds their K and V (written by kv_cache_write first), so a query at position p attends to cache positions
// [0, p] of its sequence. GQA: query head h reads KV head h / (n_q_heads / n_kv_heads). Softmax in f32.
#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/formats/kv_format.h"

namespace mixserve::cpu {

struct PagedSequence {
  int64_t n_new = 0;                   // query tokens this step
  int64_t start_pos = 0;               // position of the first new token
  int64_t token_offset = 0;            // row of the first new token in q / k / v / out
  const int32_t* block_table = nullptr;  // covers positions [0, start_pos + n_new)
};

// Quantizes the new tokens' K and V rows into their cache slots.
struct KvCacheWriteParams {
  const float* k = nullptr;  // rows of [n_kv_heads][head_dim], row r at k + r * row_stride
  const float* v = nullptr;
  int64_t row_stride = 0;    // floats between consecutive tokens
  std::span<const PagedSequence> sequences;
  KvPoolView k_pool;
  KvPoolView v_pool;
};
void kv_cache_write(const KvCacheWriteParams& p, ThreadPool& pool);

struct PagedAttentionParams {
  const float* q = nullptr;  // rows of [n_q_heads][head_dim], row r at q + r * q_row_stride
  int64_t q_row_stride = 0;
  float* out = nullptr;      // [n_tokens][n_q_heads][head_dim], dense
  int n_q_heads = 0;
  float softmax_scale = 0;   // usually 1/sqrt(head_dim)
  std::span<const PagedSequence> sequences;
  KvPoolView k_pool;
  KvPoolView v_pool;
};
void paged_attention(const PagedAttentionParams& p, ThreadPool& pool);

}  // namespace mixserve::cpu
