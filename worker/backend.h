#pragma once
// Backend: the one interface where the CPU and CUDA engines differ above kernels/. The model (llama_model.h)
// runs every op through it. Pointers handed to ops point into memory the same backend allocated
// (host memory for CPU, device memory for CUDA); ids, positions and block tables arrive as host data and the
// backend moves them where its kernels need them.
// Thread-safety: a backend is used by one executor thread.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/cpu/attention.h"
#include "kernels/formats/kv_format.h"
#include "kernels/formats/weight_format.h"

namespace mixserve {

// A float buffer in the backend's memory, freed when the last copy goes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::shared_ptr<void> storage, size_t bytes) : storage_(std::move(storage)), bytes_(bytes) {}
  float* floats() const { return static_cast<float*>(storage_.get()); }
  uint8_t* bytes() const { return static_cast<uint8_t*>(storage_.get()); }
  size_t size_bytes() const { return bytes_; }

 private:
  std::shared_ptr<void> storage_;
  size_t bytes_ = 0;
};

// A linear layer's weight (and optional bias) in whatever form the backend runs it from.
class LinearWeight {
 public:
  virtual ~LinearWeight() = default;
  virtual int64_t n() const = 0;  // output features
  virtual int64_t k() const = 0;  // input features
  virtual size_t bytes() const = 0;
};

// One sequence's part of a batch: its rows in the activations, positions and block table (host data).
using AttentionSequence = cpu::PagedSequence;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Memory.
  virtual DeviceBuffer allocate(size_t bytes) = 0;
  virtual DeviceBuffer upload(const std::vector<float>& host) = 0;
  virtual void download(const float* src, size_t n, float* host_dst) = 0;
  virtual std::unique_ptr<LinearWeight> load_linear(QuantizedWeight weight, std::vector<float> bias) = 0;

  // Ops. Shapes are [rows][cols], dense, row-major unless a stride is given.
  virtual Status embedding(const LinearWeight& table, std::span<const int32_t> ids, float* out) = 0;
  virtual void rms_norm(const float* x, const float* weight, float* out, int64_t rows, int64_t dim, float eps) = 0;
  virtual void add_rms_norm(float* residual, const float* x, const float* weight, float* out, int64_t rows,
                            int64_t dim, float eps) = 0;
  virtual void linear(const float* x, int64_t m, const LinearWeight& w, float* y) = 0;
  // Rotates n_heads heads of head_dim per row in place; rows are row_stride floats apart.
  virtual void rope(float* x, int64_t row_stride, int64_t n_heads, int64_t head_dim,
                    std::span<const int32_t> positions, const float* inv_freq) = 0;
  // dst[i] = src[rows[i]] for rows of `cols` floats.
  virtual void gather_rows(const float* src, int64_t cols, std::span<const int64_t> rows, float* dst) = 0;
  virtual void silu_mul(const float* gate_up, float* out, int64_t rows, int64_t dim) = 0;
  virtual void kv_cache_write(const float* k, const float* v, int64_t row_stride,
                              std::span<const AttentionSequence> sequences, const KvPoolView& k_pool,
                              const KvPoolView& v_pool) = 0;
  virtual void attention(const float* q, int64_t q_row_stride, int n_q_heads, float softmax_scale,
                         std::span<const AttentionSequence> sequences, const KvPoolView& k_pool,
                         const KvPoolView& v_pool, float* out) = 0;
};

}  // namespace mixserve
