#include "coordinator/metrics/serving_metrics.h"

#include "core/check.h"

namespace mixserve {
namespace {

using metrics::Registry;

std::string name(const char* suffix) {
  return std::string(ServingMetrics::kPrefix) + suffix;
}

const std::vector<std::string> kReplicaLabels = {"model_name", "replica"};

// Bucket bounds follow vLLM's, so dashboards and alert thresholds written for vLLM carry over.
std::vector<double> ttft_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}
std::vector<double> token_latency_buckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}
std::vector<double> request_latency_buckets() {
  return {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}
// 1, 2, 5, 10, 20, 50, ... up to 1,000,000 tokens (beyond any context length we serve).
std::vector<double> token_count_buckets() {
  std::vector<double> b;
  for (double decade = 1; decade <= 1e6; decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m * decade <= 1e6) b.push_back(m * decade);
    }
  }
  return b;
}
std::vector<double> iteration_token_buckets() {
  return {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
}
// 10 us .. 10 s: the coordinator's phases take microseconds, a forward on the CPU backend up to seconds.
std::vector<double> step_duration_buckets() {
  std::vector<double> b;
  for (double decade = 1e-5; decade < 10; decade *= 10) {
    for (double m : {1.0, 2.5, 5.0}) b.push_back(m * decade);
  }
  b.push_back(10.0);
  return b;
}

}  // namespace

const char* step_phase_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::admit:
      return "admit";
    case StepPhase::schedule:
      return "schedule";
    case StepPhase::execute:
      return "execute";
    case StepPhase::commit:
      return "commit";
    case StepPhase::release:
      return "release";
  }
  return "unknown";
}

ServingMetrics::ServingMetrics(Registry& r)
    : num_requests_running(
          r.gauge(name("num_requests_running"), "Number of sequences in the running batch.", kReplicaLabels)),
      num_requests_waiting(r.gauge(name("num_requests_waiting"),
                                   "Number of sequences waiting to be scheduled (including preempted ones).",
                                   kReplicaLabels)),
      kv_cache_usage_perc(r.gauge(name("kv_cache_usage_perc"),
                                  "KV-cache usage: used blocks over all blocks, 1 means 100 percent.", kReplicaLabels)),
      num_replicas_up(r.gauge(name("num_replicas_up"), "Number of replicas serving.", {"model_name"})),
      prompt_tokens_total(
          r.counter(name("prompt_tokens_total"), "Number of prefill tokens processed.", kReplicaLabels)),
      generation_tokens_total(
          r.counter(name("generation_tokens_total"), "Number of generated tokens.", kReplicaLabels)),
      request_success_total(r.counter(name("request_success_total"),
                                      "Number of finished sequences (choices), by finish reason.",
                                      {"model_name", "replica", "finished_reason"})),
      num_preemptions_total(
          r.counter(name("num_preemptions_total"), "Number of preemptions (by recompute).", kReplicaLabels)),
      prefix_cache_queries_total(r.counter(name("prefix_cache_queries_total"),
                                           "Prompt tokens looked up in the prefix cache.", kReplicaLabels)),
      prefix_cache_hits_total(
          r.counter(name("prefix_cache_hits_total"), "Prompt tokens found in the prefix cache.", kReplicaLabels)),
      request_errors_total(r.counter(name("request_errors_total"), "Number of requests answered with an error.",
                                     {"model_name", "code"})),
      time_to_first_token_seconds(r.histogram(name("time_to_first_token_seconds"),
                                              "Time from arrival to the first generated token.", kReplicaLabels,
                                              ttft_buckets())),
      inter_token_latency_seconds(r.histogram(name("inter_token_latency_seconds"),
                                              "Time between two consecutive tokens of a sequence.", kReplicaLabels,
                                              token_latency_buckets())),
      request_time_per_output_token_seconds(
          r.histogram(name("request_time_per_output_token_seconds"),
                      "Per sequence: (e2e latency - time to first token) / (generated tokens - 1).", kReplicaLabels,
                      token_latency_buckets())),
      e2e_request_latency_seconds(r.histogram(name("e2e_request_latency_seconds"),
                                              "Time from arrival to the last token of a sequence.", kReplicaLabels,
                                              request_latency_buckets())),
      request_queue_time_seconds(r.histogram(name("request_queue_time_seconds"),
                                             "Time from arrival to first being scheduled.", kReplicaLabels,
                                             request_latency_buckets())),
      request_prompt_tokens(r.histogram(name("request_prompt_tokens"), "Prompt length of finished requests.",
                                        kReplicaLabels, token_count_buckets())),
      request_generation_tokens(r.histogram(name("request_generation_tokens"),
                                            "Generated tokens of finished sequences.", kReplicaLabels,
                                            token_count_buckets())),
      iteration_tokens(r.histogram(name("iteration_tokens"), "Tokens processed per engine step.",
                                         kReplicaLabels, iteration_token_buckets())),
      step_duration_seconds(r.histogram(name("step_duration_seconds"), "Duration of each phase of an engine step.",
                                        {"model_name", "replica", "phase"}, step_duration_buckets())) {}

void ServingMetrics::count_error(const std::string& model_name, int http_status) {
  request_errors_total.with({model_name, std::to_string(http_status)}).inc();
}

ReplicaMetrics::ReplicaMetrics(ServingMetrics& m, const std::string& model, const std::string& replica)
    : num_requests_running(m.num_requests_running.with({model, replica})),
      num_requests_waiting(m.num_requests_waiting.with({model, replica})),
      kv_cache_usage_perc(m.kv_cache_usage_perc.with({model, replica})),
      prompt_tokens_total(m.prompt_tokens_total.with({model, replica})),
      generation_tokens_total(m.generation_tokens_total.with({model, replica})),
      success_stop(m.request_success_total.with({model, replica, finish_reason_name(FinishReason::stop)})),
      success_length(m.request_success_total.with({model, replica, finish_reason_name(FinishReason::length)})),
      success_cancelled(m.request_success_total.with({model, replica, finish_reason_name(FinishReason::cancelled)})),
      success_error(m.request_success_total.with({model, replica, finish_reason_name(FinishReason::error)})),
      num_preemptions_total(m.num_preemptions_total.with({model, replica})),
      prefix_cache_queries_total(m.prefix_cache_queries_total.with({model, replica})),
      prefix_cache_hits_total(m.prefix_cache_hits_total.with({model, replica})),
      time_to_first_token_seconds(m.time_to_first_token_seconds.with({model, replica})),
      inter_token_latency_seconds(m.inter_token_latency_seconds.with({model, replica})),
      request_time_per_output_token_seconds(m.request_time_per_output_token_seconds.with({model, replica})),
      e2e_request_latency_seconds(m.e2e_request_latency_seconds.with({model, replica})),
      request_queue_time_seconds(m.request_queue_time_seconds.with({model, replica})),
      request_prompt_tokens(m.request_prompt_tokens.with({model, replica})),
      request_generation_tokens(m.request_generation_tokens.with({model, replica})),
      iteration_tokens(m.iteration_tokens.with({model, replica})),
      step_admit(m.step_duration_seconds.with({model, replica, step_phase_name(StepPhase::admit)})),
      step_schedule(m.step_duration_seconds.with({model, replica, step_phase_name(StepPhase::schedule)})),
      step_execute(m.step_duration_seconds.with({model, replica, step_phase_name(StepPhase::execute)})),
      step_commit(m.step_duration_seconds.with({model, replica, step_phase_name(StepPhase::commit)})),
      step_release(m.step_duration_seconds.with({model, replica, step_phase_name(StepPhase::release)})) {}

metrics::Histogram& ReplicaMetrics::step(StepPhase phase) {
  switch (phase) {
    case StepPhase::admit:
      return step_admit;
    case StepPhase::schedule:
      return step_schedule;
    case StepPhase::execute:
      return step_execute;
    case StepPhase::commit:
      return step_commit;
    case StepPhase::release:
      return step_release;
  }
  MIXSERVE_CHECK(false);
  return step_admit;
}

metrics::Counter& ReplicaMetrics::success(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop:
      return success_stop;
    case FinishReason::length:
      return success_length;
    case FinishReason::cancelled:
      return success_cancelled;
    case FinishReason::error:
      return success_error;
  }
  MIXSERVE_CHECK(false);
  return success_error;
}

}  // namespace mixserve
