#include "kernels/cuda/gemm/gemm_tuner.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "kernels/cuda/common/cuda_check.h"

namespace mixserve::cuda {
namespace {

constexpr const char* kHeader = "# mixserve gemm tune cache v1";
constexpr size_t kScratchBytes = size_t{64} << 20;  // > the H100's 50 MB L2: writing it evicts the weights
// Split-K factors tried besides plan_gemm's own pick (plan_gemm clamps each to the chunk count).
constexpr int kSplitCandidates[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32};

struct CudaFree {
  void operator()(void* p) const { cudaFree(p); }
};
using DevicePtr = std::unique_ptr<void, CudaFree>;

Result<DevicePtr> device_alloc(size_t bytes) {
  void* p = nullptr;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, std::max<size_t>(bytes, 1)));
  return DevicePtr(p);
}

struct EventPair {
  cudaEvent_t a = nullptr, b = nullptr;
  ~EventPair() {
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
  }
};

// Median of `reps` launches of plan, each after evicting L2 with a scratch write; in microseconds.
Result<double> time_plan(const GemmPlan& plan, const DeviceWeight& w, const GemmArgs& args, void* scratch,
                         int reps, EventPair& ev) {
  MIXSERVE_RETURN_IF_ERROR(run_gemm(plan, w, args));  // warm-up: instruction cache, first-touch
  std::vector<double> us;
  for (int r = 0; r < reps; ++r) {
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(scratch, r & 0xFF, kScratchBytes, args.stream));
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventRecord(ev.a, args.stream));
    MIXSERVE_RETURN_IF_ERROR(run_gemm(plan, w, args));
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventRecord(ev.b, args.stream));
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(ev.b));
    float ms = 0;
    MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, ev.a, ev.b));
    us.push_back(1e3 * ms);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

// The formats the GEMM kernels run, by their names in weight_format_name().
Result<WeightFormat> parse_format(const std::string& s) {
  for (WeightFormat f : {WeightFormat::int4, WeightFormat::int8, WeightFormat::fp8_e4m3}) {
    if (s == weight_format_name(f)) return f;
  }
  return invalid_argument("unknown weight format '" + s + "' (expected int4, int8 or fp8)");
}

Result<ActDtype> parse_act(const std::string& s) {
  if (s == "f16" || s == "fp16") return ActDtype::f16;
  if (s == "bf16") return ActDtype::bf16;
  return invalid_argument("unknown activation dtype '" + s + "'");
}

}  // namespace

int gemm_m_bucket(int m) {
  int b = 1;
  while (b < m && b < 8192) b *= 2;
  return b;
}

GemmTuneKey gemm_tune_key(const DeviceWeight& w, int m) {
  return {.format = w.format, .group_size = w.group_size, .act = w.act, .n = w.n, .k = w.k,
          .m_bucket = gemm_m_bucket(m)};
}

std::string GemmTuneCache::current_device_name() {
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();  // no GPU: a name no real device has, so nothing loads for it
    return "no-cuda-device";
  }
  return prop.name;
}

std::optional<GemmTuneChoice> GemmTuneCache::find(const GemmTuneKey& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

Result<GemmTuneCache> GemmTuneCache::load(const std::string& path, const std::string& device_name) {
  GemmTuneCache cache(device_name);
  std::ifstream in(path);
  if (!in) return cache;  // nothing tuned yet
  std::string line;
  int line_no = 0;
  bool same_device = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (line.rfind("device ", 0) == 0) {
      same_device = line.substr(7) == device_name;
      continue;
    }
    std::istringstream fields(line);
    std::string format, act, w_config, w_splits, w_us;
    GemmTuneKey key;
    GemmTuneChoice choice;
    if (!(fields >> format >> key.group_size >> act >> key.n >> key.k >> key.m_bucket >> w_config >>
          choice.config_id >> w_splits >> choice.splits >> w_us >> choice.us) ||
        w_config != "config" || w_splits != "splits" || w_us != "us") {
      return invalid_argument(where + "expected 'FORMAT GROUP ACT N K M_BUCKET config ID splits S us T', got '" +
                              line + "'");
    }
    auto f = parse_format(format);
    if (!f.ok()) return f.status().with_context(where);
    auto a = parse_act(act);
    if (!a.ok()) return a.status().with_context(where);
    if (choice.config_id < 0 || choice.config_id >= gemm_config_count(*f) || choice.splits < 1 ||
        key.m_bucket != gemm_m_bucket(key.m_bucket))
      return invalid_argument(where + "config, splits or M bucket out of range: '" + line + "'");
    key.format = *f;
    key.act = *a;
    if (same_device) cache.put(key, choice);
  }
  return cache;
}

Status GemmTuneCache::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return io_error("cannot write " + tmp);
    out << kHeader << "\ndevice " << device_ << "\n";
    for (const auto& [key, c] : entries_) {
      out << weight_format_name(key.format) << ' ' << key.group_size << ' '
          << act_dtype_name(key.act) << ' ' << key.n << ' ' << key.k << ' ' << key.m_bucket << " config "
          << c.config_id << " splits " << c.splits << " us " << c.us << "\n";
    }
    if (!out) return io_error("cannot write " + tmp);
  }
  // Rename: a reader never sees a half-written cache.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename " + tmp + " to " + path);
  return Status::ok_status();
}

Result<GemmTuneChoice> tune_gemm(const DeviceWeight& w, int m, const void* x, void* y,
                                 const GemmTuneOptions& options) {
  if (options.reps < 1) return invalid_argument("tune_gemm: reps must be >= 1");
  // Every distinct plan once: plan_gemm's own pick (splits 0) and each split candidate, per configuration.
  std::vector<GemmPlan> plans;
  size_t workspace = 0;
  for (int id = 0; id < gemm_config_count(w.format); ++id) {
    std::vector<int> splits(std::begin(kSplitCandidates), std::end(kSplitCandidates));
    splits.push_back(0);
    for (int s : splits) {
      auto plan = plan_gemm(w, m, id, s);
      if (!plan.ok()) continue;  // e.g. more tiles than split-K's counters hold
      if (options.max_workspace && plan->workspace_bytes > options.max_workspace) continue;
      const bool seen = std::any_of(plans.begin(), plans.end(), [&](const GemmPlan& p) {
        return p.config.id == plan->config.id && p.splits == plan->splits;
      });
      if (seen) continue;
      workspace = std::max(workspace, plan->workspace_bytes);
      plans.push_back(*plan);
    }
  }
  if (plans.empty()) return internal_error("tune_gemm: no configuration can run " + std::to_string(w.n) + "x" +
                                           std::to_string(w.k) + " at m " + std::to_string(m));
  MIXSERVE_ASSIGN_OR_RETURN(GemmWorkspace ws, GemmWorkspace::create(workspace));
  MIXSERVE_ASSIGN_OR_RETURN(DevicePtr scratch, device_alloc(kScratchBytes));
  EventPair ev;
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventCreate(&ev.a));
  MIXSERVE_CUDA_RETURN_IF_ERROR(cudaEventCreate(&ev.b));
  GemmTuneChoice best{.us = 1e30};
  const GemmArgs args{.x = x, .y = y, .workspace = &ws, .stream = options.stream};
  for (const GemmPlan& plan : plans) {
    MIXSERVE_ASSIGN_OR_RETURN(double us, time_plan(plan, w, args, scratch.get(), options.reps, ev));
    if (us < best.us) best = {.config_id = plan.config.id, .splits = plan.splits, .us = us};
  }
  return best;
}

Result<GemmPlan> plan_gemm_tuned(const DeviceWeight& w, int m, const GemmTuneCache* cache) {
  if (cache) {
    if (auto choice = cache->find(gemm_tune_key(w, m))) {
      auto plan = plan_gemm(w, m, choice->config_id, choice->splits);
      if (plan.ok()) return plan;  // a choice tuned at the bucket's top M may not fit a smaller M: fall back
    }
  }
  return plan_gemm(w, m);
}

}  // namespace mixserve::cuda
