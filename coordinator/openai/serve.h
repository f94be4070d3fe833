#pragma once
// The coordinator's front, put together: tokenizer and chat template, metrics, the EngineCore over a set of
// replicas, the OpenAI service and the HTTP server; then serving until SIGTERM or SIGINT, and the drain:
// /ready and new generations answer 503, requests in flight finish (up to drain_timeout), the process exits 0.
//
// This is the seam between launch modes: `mixserve serve` without mpirun passes one InProcessReplica; the
// MPI launch (rank 0) passes the RemoteReplicas of its worker groups. Nothing here knows which.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/http/http_server.h"
#include "coordinator/serving/engine_core.h"
#include "coordinator/serving/replica.h"
#include "core/status.h"

namespace mixserve {

struct ServeOptions {
  std::string model_dir;         // listed as the model's root; the tokenizer's default directory
  std::string tokenizer_dir;     // empty: model_dir
  std::string served_model_name; // empty: the last component of model_dir
  std::vector<int64_t> eos_ids;  // the model config's end-of-sequence ids, merged with the tokenizer's
  HttpServerOptions http;
  SchedulerOptions scheduler;
  std::chrono::milliseconds drain_timeout{30000};
};

// Serves until a termination signal and the drain that follows it. Errors: a tokenizer that does not load,
// a port that cannot be bound, no replica. The replicas' capacities must agree on max_model_len.
Status serve_replicas(std::vector<std::unique_ptr<Replica>> replicas, const ServeOptions& options);

// The name /v1/models lists when none is given: "models/llama3-8b/" -> "llama3-8b".
std::string default_model_name(const std::string& model_dir);

}  // namespace mixserve
