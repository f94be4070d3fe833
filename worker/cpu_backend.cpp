#include "worker/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/check.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"

namespace mixserve {
namespace {

class CpuLinearWeight final : public LinearWeight {
 public:
  CpuLinearWeight(QuantizedWeight w, std::vector<float> bias) : w_(std::move(w)), bias_(std::move(bias)) {}
  int64_t n() const override { return w_.n; }
  int64_t k() const override { return w_.k; }
  size_t bytes() const override { return w_.bytes() + bias_.size() * sizeof(float); }
  const QuantizedWeight& weight() const { return w_; }
  const float* bias() const { return bias_.empty() ? nullptr : bias_.data(); }

 private:
  QuantizedWeight w_;
  std::vector<float> bias_;
};

const CpuLinearWeight& as_cpu(const LinearWeight& w) { return static_cast<const CpuLinearWeight&>(w); }

}  // namespace

DeviceBuffer CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment keeps rows friendly to vector loads.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw std::bad_alloc();
  return DeviceBuffer(std::shared_ptr<void>(p, std::free), bytes);
}

DeviceBuffer CpuBackend::upload(const std::vector<float>& host) {
  DeviceBuffer buffer = allocate(host.size() * sizeof(float));
  std::memcpy(buffer.floats(), host.data(), host.size() * sizeof(float));
  return buffer;
}

void CpuBackend::download(const float* src, size_t n, float* host_dst) { std::memcpy(host_dst, src, n * sizeof(float)); }

std::unique_ptr<LinearWeight> CpuBackend::load_linear(QuantizedWeight weight, std::vector<float> bias) {
  MIXSERVE_CHECK(bias.empty() || static_cast<int64_t>(bias.size()) == weight.n);
  return std::make_unique<CpuLinearWeight>(std::move(weight), std::move(bias));
}

Status CpuBackend::embedding(const LinearWeight& table, std::span<const int32_t> ids, float* out) {
  return cpu::embedding({.table = &as_cpu(table).weight(), .ids = ids.data(), .out = out,
                         .n_tokens = static_cast<int64_t>(ids.size())});
}

void CpuBackend::rms_norm(const float* x, const float* weight, float* out, int64_t rows, int64_t dim, float eps) {
  cpu::rms_norm({.x = x, .weight = weight, .out = out, .n_rows = rows, .dim = dim, .eps = eps}, pool_);
}

void CpuBackend::add_rms_norm(float* residual, const float* x, const float* weight, float* out, int64_t rows,
                              int64_t dim, float eps) {
  cpu::add_rms_norm(
      {.residual = residual, .x = x, .weight = weight, .out = out, .n_rows = rows, .dim = dim, .eps = eps}, pool_);
}

void CpuBackend::linear(const float* x, int64_t m, const LinearWeight& w, float* y) {
  const auto& cw = as_cpu(w);
  cpu::linear({.x = x, .w = &cw.weight(), .bias = cw.bias(), .y = y, .m = m}, pool_);
}

void CpuBackend::rope(float* x, int64_t row_stride, int64_t n_heads, int64_t head_dim,
                      std::span<const int32_t> positions, const float* inv_freq) {
  cpu::rope({.x = x, .positions = positions.data(), .inv_freq = inv_freq,
             .n_tokens = static_cast<int64_t>(positions.size()), .n_heads = n_heads, .head_dim = head_dim,
             .row_stride = row_stride},
            pool_);
}

void CpuBackend::gather_rows(const float* src, int64_t cols, std::span<const int64_t> rows, float* dst) {
  for (size_t i = 0; i < rows.size(); ++i) std::memcpy(dst + i * cols, src + rows[i] * cols, cols * sizeof(float));
}

void CpuBackend::silu_mul(const float* gate_up, float* out, int64_t rows, int64_t dim) {
  cpu::silu_mul({.gate_up = gate_up, .out = out, .n_rows = rows, .dim = dim}, pool_);
}

void CpuBackend::kv_cache_write(const float* k, const float* v, int64_t row_stride,
                                std::span<const AttentionSequence> sequences, const KvPoolView& k_pool,
                                const KvPoolView& v_pool) {
  cpu::kv_cache_write(
      {.k = k, .v = v, .row_stride = row_stride, .sequences = sequences, .k_pool = k_pool, .v_pool = v_pool}, pool_);
}

void CpuBackend::attention(const float* q, int64_t q_row_stride, int n_q_heads, float softmax_scale,
                           std::span<const AttentionSequence> sequences, const KvPoolView& k_pool,
                           const KvPoolView& v_pool, float* out) {
  cpu::paged_attention({.q = q, .q_row_stride = q_row_stride, .out = out, .n_q_heads = n_q_heads,
                        .softmax_scale = softmax_scale, .sequences = sequences, .k_pool = k_pool,
                        .v_pool = v_pool},
                       pool_);
}

}  // namespace mixserve
