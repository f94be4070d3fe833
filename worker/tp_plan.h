#pragma once
// Tensor-parallel sharding as pure functions of (config, rank, size).
//   q/k/v and gate/up: split by output features (rows of the HF [out, in] matrix): rank r holds a contiguous
//     range of query heads, KV heads, and intermediate channels.
//   o and down: split by input features (columns), so each rank's partial sums meet in one all-reduce.
//   KV heads: split when n_kv_heads >= tp (must divide); when tp > n_kv_heads (tp a multiple of it), each KV
//     head is replicated on tp / n_kv_heads consecutive ranks, so the ranks sharing it hold adjacent q heads.
//   Embedding, norms and the LM head are replicated.
#include <cstdint>
#include <vector>

#include "core/model_config.h"
#include "core/status.h"

namespace mixserve {

struct TpPlan {
  int tp_rank = 0;
  int tp_size = 1;
  int64_t head_dim = 0;
  int64_t q_head_begin = 0;
  int64_t n_q_heads = 0;  // local
  int64_t kv_head_begin = 0;
  int64_t n_kv_heads = 0;  // local
  int64_t inter_begin = 0;
  int64_t n_inter = 0;  // local intermediate channels

  int64_t q_rows() const { return n_q_heads * head_dim; }
  int64_t kv_rows() const { return n_kv_heads * head_dim; }
  int64_t qkv_rows() const { return q_rows() + 2 * kv_rows(); }
};

// invalid_argument when the heads or the intermediate size cannot be split across tp_size ranks.
Result<TpPlan> make_tp_plan(const ModelConfig& config, int tp_rank, int tp_size);

// Rows [begin, begin + count) of a row-major [n_rows, n_cols] matrix (or a vector when n_cols == 1).
std::vector<float> slice_rows(const std::vector<float>& m, int64_t n_cols, int64_t begin, int64_t count);
// Columns [begin, begin + count) of a row-major [n_rows, n_cols] matrix.
std::vector<float> slice_cols(const std::vector<float>& m, int64_t n_cols, int64_t begin, int64_t count);
// Stacks row blocks that share n_cols: the fused qkv and gate_up weights.
std::vector<float> concat_rows(const std::vector<const std::vector<float>*>& parts);

}  // namespace mixserve
