#pragma once
// The GEMM tuner: for a model's actual shapes, times every compiled tile configuration and a range of split-K
// factors on this GPU and keeps the fastest per (format, group, activation dtype, N, K, M bucket), in a cache
// that is saved to a text file and loaded on the next start, so a server tunes once per GPU model.
//
// Why not only plan_gemm's defaults: its M buckets and wave model are a fixed guess; on the H100 the best
// configuration of one M differs between a 6144x4096 and a 28672x4096 weight (benchmarks/RESULTS.md), and a
// measured choice costs a few milliseconds per shape.
//
// Timing: each candidate runs `reps` times, each launch preceded by a write of a 64 MB scratch buffer, so the
// weights come from HBM as in a real step (a weight of a few MB would otherwise sit in the 50 MB L2 and rank
// configurations by L2 speed). The median launch time decides.
//
// File format (text, one entry per line after a header naming the GPU; entries of another GPU are ignored):
//   # mixserve gemm tune cache v1
//   device NVIDIA H100 80GB HBM3
//   int4 128 f16 6144 4096 16 config 1 splits 4 us 12.30
// (fp8 entries may name config 7: cuBLASLt, kGemmCublasLtConfig.)
#include <cuda_runtime.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "kernels/cuda/gemm/gemm.h"

namespace mixserve::cuda {

// M buckets: the next power of two >= m, up to 8192 (every larger M shares the 8192 bucket).
int gemm_m_bucket(int m);

struct GemmTuneKey {
  WeightFormat format = WeightFormat::int4;
  int group_size = 0;
  ActDtype act = ActDtype::f16;
  int64_t n = 0, k = 0;
  int m_bucket = 1;
  auto tie() const { return std::tie(format, group_size, act, n, k, m_bucket); }
  bool operator<(const GemmTuneKey& o) const { return tie() < o.tie(); }
};
GemmTuneKey gemm_tune_key(const DeviceWeight& w, int m);

struct GemmTuneChoice {
  int config_id = 0;
  int splits = 1;
  double us = 0;  // the median measured time of the choice, at the bucket's M
};

class GemmTuneCache {
 public:
  explicit GemmTuneCache(std::string device_name = current_device_name()) : device_(std::move(device_name)) {}
  // A missing file is an empty cache; a file of another GPU loads empty (with its entries dropped);
  // a malformed line is an error naming the line.
  static Result<GemmTuneCache> load(const std::string& path, const std::string& device_name = current_device_name());
  Status save(const std::string& path) const;

  std::optional<GemmTuneChoice> find(const GemmTuneKey& key) const;
  void put(const GemmTuneKey& key, const GemmTuneChoice& choice) { entries_[key] = choice; }
  size_t size() const { return entries_.size(); }
  const std::string& device() const { return device_; }

  static std::string current_device_name();

 private:
  std::string device_;
  std::map<GemmTuneKey, GemmTuneChoice> entries_;
};

struct GemmTuneOptions {
  int reps = 9;                  // timed launches per candidate (median)
  size_t max_workspace = 0;      // candidates needing more split-K workspace are skipped; 0: no limit
  cudaStream_t stream = nullptr;
};

// Times every configuration x split candidate for w at M = m on x/y (device buffers of m rows, the caller's
// dtype) and returns the fastest. Allocates its own workspace and scratch. Errors: CUDA failures; no
// candidate runs.
Result<GemmTuneChoice> tune_gemm(const DeviceWeight& w, int m, const void* x, void* y,
                                 const GemmTuneOptions& options = {});

// The plan for w at M = m: the cache's choice for m's bucket when there is one, plan_gemm's default otherwise.
Result<GemmPlan> plan_gemm_tuned(const DeviceWeight& w, int m, const GemmTuneCache* cache);

}  // namespace mixserve::cuda
