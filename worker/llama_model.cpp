#include "worker/llama_model.h"

#include <cmath>

#include "core/check.h"
#include "kernels/cpu/rope.h"

namespace mixserve {

LlamaModel::LlamaModel(ModelConfig config, TpPlan plan, ModelWeights weights, Backend& backend, Communicator& comm)
    : config_(std::move(config)), plan_(plan), weights_(std::move(weights)), backend_(backend), comm_(comm) {
  inv_freq_ = backend_.upload(cpu::rope_inv_freq(config_.head_dim, config_.rope_theta, config_.rope_scaling));
}

void LlamaModel::reserve(int64_t n_tokens, int64_t n_logit_rows) {
  if (n_tokens > ws_.capacity_tokens) {
    const auto floats = [&](int64_t cols) { return backend_.allocate(n_tokens * cols * sizeof(float)); };
    ws_.residual = floats(config_.hidden_size);
    ws_.normed = floats(config_.hidden_size);
    ws_.qkv = floats(plan_.qkv_rows());
    ws_.attn = floats(plan_.q_rows());
    ws_.proj = floats(config_.hidden_size);
    ws_.gate_up = floats(2 * plan_.n_inter);
    ws_.act = floats(plan_.n_inter);
    ws_.capacity_tokens = n_tokens;
  }
  if (n_logit_rows > logit_capacity_) {
    ws_.selected = backend_.allocate(n_logit_rows * config_.hidden_size * sizeof(float));
    ws_.logits = backend_.allocate(n_logit_rows * config_.vocab_size * sizeof(float));
    logit_capacity_ = n_logit_rows;
  }
}

Status LlamaModel::forward(const ForwardBatch& batch, const KvCache& cache, std::vector<float>* logits) {
  const int64_t n = static_cast<int64_t>(batch.token_ids.size());
  MIXSERVE_CHECK_EQ(batch.positions.size(), batch.token_ids.size());
  const int64_t hidden = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const int64_t n_logits = static_cast<int64_t>(batch.logit_rows.size());
  reserve(n, n_logits);

  MIXSERVE_RETURN_IF_ERROR(backend_.embedding(*weights_.embed, batch.token_ids, ws_.residual.floats()));
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) MIXSERVE_RETURN_IF_ERROR(run_layer(l, batch, cache, l == 0));
  // The last layer's MLP output still waits in `proj` to join the residual stream.
  backend_.add_rms_norm(ws_.residual.floats(), ws_.proj.floats(), weights_.final_norm.floats(), ws_.normed.floats(),
                        n, hidden, eps);
  if (n_logits == 0) return {};
  backend_.gather_rows(ws_.normed.floats(), hidden, batch.logit_rows, ws_.selected.floats());
  backend_.linear(ws_.selected.floats(), n_logits, *weights_.lm_head, ws_.logits.floats());
  logits->resize(n_logits * config_.vocab_size);
  backend_.download(ws_.logits.floats(), logits->size(), logits->data());
  return {};
}

Status LlamaModel::run_layer(int64_t layer, const ForwardBatch& batch, const KvCache& cache, bool first) {
  const LayerWeights& w = weights_.layers[layer];
  const int64_t n = static_cast<int64_t>(batch.token_ids.size());
  const int64_t hidden = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const int64_t qkv_stride = plan_.qkv_rows();
  float* qkv = ws_.qkv.floats();      // [n][q_rows | kv_rows | kv_rows]
  float* k = qkv + plan_.q_rows();
  float* v = k + plan_.kv_rows();

  // Attention block. The previous layer's MLP output (in proj) joins the residual as this layer's norm runs.
  if (first) {
    backend_.rms_norm(ws_.residual.floats(), w.input_norm.floats(), ws_.normed.floats(), n, hidden, eps);
  } else {
    backend_.add_rms_norm(ws_.residual.floats(), ws_.proj.floats(), w.input_norm.floats(), ws_.normed.floats(), n,
                          hidden, eps);
  }
  backend_.linear(ws_.normed.floats(), n, *w.qkv, qkv);
  backend_.rope(qkv, qkv_stride, plan_.n_q_heads, plan_.head_dim, batch.positions, inv_freq_.floats());
  backend_.rope(k, qkv_stride, plan_.n_kv_heads, plan_.head_dim, batch.positions, inv_freq_.floats());
  backend_.kv_cache_write(k, v, qkv_stride, batch.sequences, cache.k_pool(layer), cache.v_pool(layer));
  const float softmax_scale = 1.0f / std::sqrt(static_cast<float>(plan_.head_dim));
  backend_.attention(qkv, qkv_stride, static_cast<int>(plan_.n_q_heads), softmax_scale, batch.sequences,
                     cache.k_pool(layer), cache.v_pool(layer), ws_.attn.floats());
  backend_.linear(ws_.attn.floats(), n, *w.o, ws_.proj.floats());
  MIXSERVE_RETURN_IF_ERROR(comm_.all_reduce_sum(ws_.proj.floats(), n * hidden));

  // MLP block.
  backend_.add_rms_norm(ws_.residual.floats(), ws_.proj.floats(), w.post_attention_norm.floats(), ws_.normed.floats(),
                        n, hidden, eps);
  backend_.linear(ws_.normed.floats(), n, *w.gate_up, ws_.gate_up.floats());
  backend_.silu_mul(ws_.gate_up.floats(), ws_.act.floats(), n, plan_.n_inter);
  backend_.linear(ws_.act.floats(), n, *w.down, ws_.proj.floats());
  return comm_.all_reduce_sum(ws_.proj.floats(), n * hidden);
}

}  // namespace mixserve
