#pragma once
// EngineCore: the serving core behind the HTTP layer. It owns one Scheduler per replica (each on its own
// thread, driving its Replica step by step) and the Router that assigns new requests to replicas
// (least outstanding tokens, with prefix-cache affinity).
// Thread-safety: submit/cancel/snapshot may be called from any thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/serving/replica.h"
#include "coordinator/serving/request.h"
#include "core/status.h"

namespace mixserve {

struct SchedulerOptions {
  int64_t max_batch_tokens = 2048;   // token budget per step (decodes + prefill chunks)
  int64_t max_running = 256;         // sequences in the batch
  int64_t max_waiting = 1024;        // bounded queue: beyond it submit() answers resource_exhausted (HTTP 429)
  bool prefix_caching = true;
};

struct EngineSnapshot {  // for /health, /ready and /metrics
  int n_replicas = 0;
  int n_replicas_up = 0;
  int64_t n_running = 0;
  int64_t n_waiting = 0;
  double kv_cache_usage = 0;  // used blocks / total, over live replicas
};

class EngineCore {
 public:
  virtual ~EngineCore() = default;
  // resource_exhausted when the waiting queue is full; out_of_range when prompt + max_tokens cannot fit the
  // context; unavailable replicas are skipped (no replica up: an error).
  virtual Status submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) = 0;
  // Cancels every choice of a request (client gone, or the HTTP layer matched a stop string on all choices);
  // its blocks are freed within one step. on_finished(cancelled) follows. Unknown ids are ignored.
  virtual void cancel(const std::string& request_id) = 0;
  // Cancels one choice (a stop string matched on it).
  virtual void cancel_choice(const std::string& request_id, int choice) = 0;
  virtual EngineSnapshot snapshot() const = 0;
  // Stops accepting, finishes in-flight work up to the deadline, stops the scheduler threads.
  virtual void drain(std::chrono::milliseconds deadline) = 0;
};

std::unique_ptr<EngineCore> make_engine_core(std::vector<std::unique_ptr<Replica>> replicas,
                                             const SchedulerOptions& options);

// As above, and the schedulers update `metrics` (owned by the caller, outliving the engine core) under
// model_name=`model_name` and replica="0", "1", ... (coordinator/metrics/serving_metrics.h).
struct ServingMetrics;
std::unique_ptr<EngineCore> make_engine_core(std::vector<std::unique_ptr<Replica>> replicas,
                                             const SchedulerOptions& options, ServingMetrics* metrics,
                                             const std::string& model_name);

}  // namespace mixserve
