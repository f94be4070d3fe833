// `mixserve serve --model DIR`: one process, the coordinator and one in-process CPU replica (TP = 1), serving
// the OpenAI API until SIGTERM (coordinator/openai/serve.h).
// `mpirun -np 1+TP*DP mixserve serve --model DIR --tp TP --dp DP`: world rank 0 becomes the coordinator with
// one RemoteReplica per DP replica and calls the same serve_replicas(); every other rank becomes a worker
// (tools/cli/cluster.h) and never comes back from start_cluster().
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "coordinator/openai/serve.h"
#include "core/log.h"
#include "core/model_config.h"
#include "tools/cli/cluster.h"
#include "tools/cli/commands.h"
#include "tools/cli/engine_format_options.h"
#include "tools/cli/parse_options.h"
#include "worker/in_process_replica.h"

namespace mixserve::cli {
namespace {

namespace po = boost::program_options;

int fail(const Status& status) {
  std::fprintf(stderr, "mixserve serve: %s\n", status.to_string().c_str());
  return 1;
}

struct ServeArgs {
  ServeOptions serve;
  EngineOptions engine;
  EngineFormatArgs formats;
  int compute_threads = 0;
  int drain_timeout_s = 30;
  bool no_prefix_caching = false;
  int tp = 1, dp = 1;
  std::string coordinator_host;
  int64_t bootstrap_timeout_s = 60, peer_timeout_ms = 10000, step_timeout_ms = 120000;
};

po::options_description describe(ServeArgs& a) {
  po::options_description desc("mixserve serve --model DIR [options]");
  desc.add_options()("help,h", "this help")
      ("model", po::value(&a.serve.model_dir)->required(), "HF checkpoint directory")
      ("tokenizer", po::value(&a.serve.tokenizer_dir), "tokenizer directory (default: the model directory)")
      ("served-model-name", po::value(&a.serve.served_model_name), "the model id clients use (default: DIR's name)")
      ("host", po::value(&a.serve.http.host)->default_value("127.0.0.1"), "address to listen on")
      ("port", po::value(&a.serve.http.port)->default_value(8000), "port (0: any free port)")
      ("http-threads", po::value(&a.serve.http.n_threads)->default_value(2), "threads serving HTTP connections")
      ("max-body-bytes", po::value(&a.serve.http.max_body_bytes)->default_value(8u << 20), "larger bodies get 413")
      ("block-size", po::value(&a.engine.block_size)->default_value(64), "tokens per KV block")
      ("max-batch-tokens", po::value(&a.serve.scheduler.max_batch_tokens)->default_value(2048),
       "token budget of one engine step (decodes + prefill chunks)")
      ("max-running", po::value(&a.serve.scheduler.max_running)->default_value(256), "sequences in the batch")
      ("max-waiting", po::value(&a.serve.scheduler.max_waiting)->default_value(1024),
       "queued requests before 429")
      ("no-prefix-caching", po::bool_switch(&a.no_prefix_caching), "do not reuse KV blocks of shared prefixes")
      ("threads", po::value(&a.compute_threads)->default_value(0), "CPU compute threads (0: all cores)")
      ("drain-timeout", po::value(&a.drain_timeout_s)->default_value(30),
       "seconds in-flight requests get to finish after SIGTERM")
      ("tp", po::value(&a.tp)->default_value(1), "tensor-parallel ranks per replica (under mpirun)")
      ("dp", po::value(&a.dp)->default_value(1), "data-parallel replicas (under mpirun)")
      ("coordinator-host", po::value(&a.coordinator_host), "address workers connect to (default: auto)")
      ("bootstrap-timeout", po::value(&a.bootstrap_timeout_s)->default_value(60),
       "seconds until every worker has connected; a timeout names the missing ranks and hosts")
      ("peer-timeout-ms", po::value(&a.peer_timeout_ms)->default_value(10000),
       "silence after which a worker counts as lost")
      ("step-timeout-ms", po::value(&a.step_timeout_ms)->default_value(120000), "deadline of one engine step");
  add_engine_format_options(desc, a.formats, a.engine);
  return desc;
}

Status apply_formats(ServeArgs& a) {
  MIXSERVE_RETURN_IF_ERROR(apply_engine_formats(a.formats, a.engine));
  a.serve.scheduler.prefix_caching = !a.no_prefix_caching;
  a.serve.drain_timeout = std::chrono::seconds(a.drain_timeout_s);
  return Status::ok_status();
}

// Under mpirun: the cluster's replicas (worker ranks stay in start_cluster for good). Otherwise one in-process
// replica; --tp/--dp above 1 without mpirun is an error rather than a silent single replica.
Result<std::vector<std::unique_ptr<Replica>>> load_replicas(const ServeArgs& a) {
  if (in_cluster_launch()) {
    ClusterOptions cluster{.model_dir = a.serve.model_dir,
                           .engine = a.engine,
                           .tp = a.tp,
                           .dp = a.dp,
                           .worker_threads = a.compute_threads,
                           .coordinator_host = a.coordinator_host,
                           .bootstrap_timeout = std::chrono::seconds(a.bootstrap_timeout_s)};
    cluster.channel.peer_timeout = std::chrono::milliseconds(a.peer_timeout_ms);
    cluster.replica.step_timeout = std::chrono::milliseconds(a.step_timeout_ms);
    return start_cluster(cluster);
  }
  if (a.tp != 1 || a.dp != 1)
    return invalid_argument("--tp " + std::to_string(a.tp) + " --dp " + std::to_string(a.dp) +
                            " needs `mpirun -np " + std::to_string(1 + a.tp * a.dp) + " mixserve serve ...`");
  LOG_INFO("serve", "loading " << a.serve.model_dir << " (one process, TP=1, CPU backend)");
  MIXSERVE_ASSIGN_OR_RETURN(auto replica, InProcessReplica::load(a.serve.model_dir, a.engine, a.compute_threads));
  std::vector<std::unique_ptr<Replica>> replicas;
  replicas.push_back(std::move(replica));
  return replicas;
}

}  // namespace

int run_serve(int argc, char** argv) {
  ServeArgs args;
  po::options_description desc = describe(args);
  po::variables_map vm;
  if (auto exit_code = parse_options("serve", argc, argv, desc, vm)) return *exit_code;
  if (Status s = apply_formats(args); !s.ok()) return fail(s);
  auto config = load_model_config(args.serve.model_dir);
  if (!config.ok()) return fail(config.status());
  args.serve.eos_ids = config->eos_token_ids;

  auto replicas = load_replicas(args);
  if (!replicas.ok()) return fail(replicas.status());
  if (Status s = serve_replicas(std::move(*replicas), args.serve); !s.ok()) return fail(s);
  return 0;
}

}  // namespace mixserve::cli
