#include "worker/tp_plan.h"

#include <string>

#include "core/check.h"

namespace mixserve {

Result<TpPlan> make_tp_plan(const ModelConfig& config, int tp_rank, int tp_size) {
  const auto fail = [&](const std::string& why) {
    return invalid_argument("tensor parallel size " + std::to_string(tp_size) + ": " + why);
  };
  if (tp_size < 1 || tp_rank < 0 || tp_rank >= tp_size) return fail("rank " + std::to_string(tp_rank) + " out of range");
  const int64_t hq = config.num_attention_heads;
  const int64_t hkv = config.num_key_value_heads;
  if (hq % tp_size != 0) return fail(std::to_string(hq) + " attention heads do not split evenly");
  if (config.intermediate_size % tp_size != 0)
    return fail("intermediate_size " + std::to_string(config.intermediate_size) + " does not split evenly");
  TpPlan plan;
  plan.tp_rank = tp_rank;
  plan.tp_size = tp_size;
  plan.head_dim = config.head_dim;
  plan.n_q_heads = hq / tp_size;
  plan.q_head_begin = plan.n_q_heads * tp_rank;
  if (hkv >= tp_size) {
    if (hkv % tp_size != 0) return fail(std::to_string(hkv) + " KV heads do not split evenly");
    plan.n_kv_heads = hkv / tp_size;
    plan.kv_head_begin = plan.n_kv_heads * tp_rank;
  } else {
    if (tp_size % hkv != 0) return fail("is not a multiple of the " + std::to_string(hkv) + " KV heads");
    plan.n_kv_heads = 1;
    plan.kv_head_begin = tp_rank / (tp_size / hkv);
  }
  plan.n_inter = config.intermediate_size / tp_size;
  plan.inter_begin = plan.n_inter * tp_rank;
  return plan;
}

std::vector<float> slice_rows(const std::vector<float>& m, int64_t n_cols, int64_t begin, int64_t count) {
  MIXSERVE_CHECK_LE(static_cast<size_t>((begin + count) * n_cols), m.size());
  return std::vector<float>(m.begin() + begin * n_cols, m.begin() + (begin + count) * n_cols);
}

std::vector<float> slice_cols(const std::vector<float>& m, int64_t n_cols, int64_t begin, int64_t count) {
  MIXSERVE_CHECK_LE(begin + count, n_cols);
  const int64_t n_rows = static_cast<int64_t>(m.size()) / n_cols;
  std::vector<float> out(n_rows * count);
  for (int64_t r = 0; r < n_rows; ++r)
    std::copy(m.begin() + r * n_cols + begin, m.begin() + r * n_cols + begin + count, out.begin() + r * count);
  return out;
}

std::vector<float> concat_rows(const std::vector<const std::vector<float>*>& parts) {
  size_t total = 0;
  for (const auto* p : parts) total += p->size();
  std::vector<float> out;
  out.reserve(total);
  for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

}  // namespace mixserve
