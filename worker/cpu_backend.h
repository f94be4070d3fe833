#pragma once
// The CPU backend: every op is the reference kernel of kernels/cpu, run on a ThreadPool.
#include "core/thread_pool.h"
#include "worker/backend.h"

namespace mixserve {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(ThreadPool& pool) : pool_(pool) {}
  const char* name() const override { return "cpu"; }

  DeviceBuffer allocate(size_t bytes) override;
  DeviceBuffer upload(const std::vector<float>& host) override;
  void download(const float* src, size_t n, float* host_dst) override;
  std::unique_ptr<LinearWeight> load_linear(QuantizedWeight weight, std::vector<float> bias) override;

  Status embedding(const LinearWeight& table, std::span<const int32_t> ids, float* out) override;
  void rms_norm(const float* x, const float* weight, float* out, int64_t rows, int64_t dim, float eps) override;
  void add_rms_norm(float* residual, const float* x, const float* weight, float* out, int64_t rows, int64_t dim,
                    float eps) override;
  void linear(const float* x, int64_t m, const LinearWeight& w, float* y) override;
  void rope(float* x, int64_t row_stride, int64_t n_heads, int64_t head_dim, std::span<const int32_t> positions,
            const float* inv_freq) override;
  void gather_rows(const float* src, int64_t cols, std::span<const int64_t> rows, float* dst) override;
  void silu_mul(const float* gate_up, float* out, int64_t rows, int64_t dim) override;
  void kv_cache_write(const float* k, const float* v, int64_t row_stride, std::span<const AttentionSequence> sequences,
                      const KvPoolView& k_pool, const KvPoolView& v_pool) override;
  void attention(const float* q, int64_t q_row_stride, int n_q_heads, float softmax_scale,
                 std::span<const AttentionSequence> sequences, const KvPoolView& k_pool, const KvPoolView& v_pool,
                 float* out) override;

 private:
  ThreadPool& pool_;
};

}  // namespace mixserve
