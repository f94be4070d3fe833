#pragma once
// The serving metrics of serving.md (vLLM's names under a `mixserve_` prefix), registered in one Registry.
// The HTTP layer owns the Registry and the ServingMetrics, serves registry.render() on /metrics and counts
// request_errors_total; the engine core and its schedulers update the rest.
//
// Labels: every family carries model_name. Families that describe one replica's work also carry replica
// (its index, "0", "1", ...). Two do not: num_replicas_up counts replicas, and request_errors_total counts
// HTTP errors, most of which (400, 404, 413) happen before any replica is chosen. Extra labels:
// request_success_total{finished_reason} (stop, length, cancelled, error: finish_reason_name()),
// request_errors_total{code} (the HTTP status, "400", "429", ...), step_duration_seconds{phase}.
//
// Names differ from serving.md in two places, because the design also asks that `promtool check metrics`
// pass and its linter (Prometheus 2.42, exit code 3) rejects both: the prefix is `mixserve_`, not
// `mixserve:` (colons are reserved for recording rules), and the per-step token histogram is
// `iteration_tokens`, not vLLM's `iteration_tokens_total` (a _total suffix means a counter). docs/http_api.md.
//
// Thread-safety: as Registry. ReplicaMetrics is a bundle of references resolved once, so a scheduler's hot
// path never looks a child up by its labels.
#include <string>

#include "coordinator/metrics/registry.h"
#include "coordinator/serving/request.h"

namespace mixserve {

// The phases of one scheduler step, as labels of step_duration_seconds. "execute" is the replica's forward
// (plan sent to results received); the other four are the coordinator's own overhead per step.
enum class StepPhase { admit, schedule, execute, commit, release };
const char* step_phase_name(StepPhase phase);  // "admit", "schedule", "execute", "commit", "release"

struct ServingMetrics {
  explicit ServingMetrics(metrics::Registry& registry);

  static constexpr const char* kPrefix = "mixserve_";

  // Gauges.
  metrics::GaugeFamily& num_requests_running;  // {model_name, replica}: sequences in the batch
  metrics::GaugeFamily& num_requests_waiting;  // {model_name, replica}: sequences queued (incl. preempted)
  metrics::GaugeFamily& kv_cache_usage_perc;   // {model_name, replica}: used blocks / total, in [0, 1]
  metrics::GaugeFamily& num_replicas_up;       // {model_name}
  // Counters.
  metrics::CounterFamily& prompt_tokens_total;         // {model_name, replica}: prompt tokens prefilled
  metrics::CounterFamily& generation_tokens_total;     // {model_name, replica}
  metrics::CounterFamily& request_success_total;       // {model_name, replica, finished_reason}
  metrics::CounterFamily& num_preemptions_total;       // {model_name, replica}
  metrics::CounterFamily& prefix_cache_queries_total;  // {model_name, replica}: prompt tokens looked up
  metrics::CounterFamily& prefix_cache_hits_total;     // {model_name, replica}: of those, found cached
  metrics::CounterFamily& request_errors_total;        // {model_name, code}
  // Histograms.
  metrics::HistogramFamily& time_to_first_token_seconds;            // {model_name, replica}
  metrics::HistogramFamily& inter_token_latency_seconds;            // {model_name, replica}
  metrics::HistogramFamily& request_time_per_output_token_seconds;  // {model_name, replica}
  metrics::HistogramFamily& e2e_request_latency_seconds;            // {model_name, replica}
  metrics::HistogramFamily& request_queue_time_seconds;             // {model_name, replica}
  metrics::HistogramFamily& request_prompt_tokens;                  // {model_name, replica}
  metrics::HistogramFamily& request_generation_tokens;              // {model_name, replica}
  metrics::HistogramFamily& iteration_tokens;                 // {model_name, replica}: tokens per step
  metrics::HistogramFamily& step_duration_seconds;                  // {model_name, replica, phase}

  // For the HTTP layer: request_errors_total{model_name, code=http_status} += 1.
  void count_error(const std::string& model_name, int http_status);
};

// The children one replica's scheduler updates; built once per replica.
struct ReplicaMetrics {
  ReplicaMetrics(ServingMetrics& m, const std::string& model_name, const std::string& replica);

  metrics::Gauge& num_requests_running;
  metrics::Gauge& num_requests_waiting;
  metrics::Gauge& kv_cache_usage_perc;
  metrics::Counter& prompt_tokens_total;
  metrics::Counter& generation_tokens_total;
  metrics::Counter& success_stop;
  metrics::Counter& success_length;
  metrics::Counter& success_cancelled;
  metrics::Counter& success_error;
  metrics::Counter& num_preemptions_total;
  metrics::Counter& prefix_cache_queries_total;
  metrics::Counter& prefix_cache_hits_total;
  metrics::Histogram& time_to_first_token_seconds;
  metrics::Histogram& inter_token_latency_seconds;
  metrics::Histogram& request_time_per_output_token_seconds;
  metrics::Histogram& e2e_request_latency_seconds;
  metrics::Histogram& request_queue_time_seconds;
  metrics::Histogram& request_prompt_tokens;
  metrics::Histogram& request_generation_tokens;
  metrics::Histogram& iteration_tokens;
  metrics::Histogram& step_admit;
  metrics::Histogram& step_schedule;
  metrics::Histogram& step_execute;
  metrics::Histogram& step_commit;
  metrics::Histogram& step_release;

  metrics::Histogram& step(StepPhase phase);
  metrics::Counter& success(FinishReason reason);
};

}  // namespace mixserve
