#include "coordinator/openai/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>

#include "coordinator/chat/chat_template.h"
#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/openai/openai_service.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "core/log.h"

namespace mixserve {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> merged_eos(const Tokenizer& tokenizer, const std::vector<int64_t>& config_eos) {
  std::vector<int32_t> ids = tokenizer.eos_ids();
  for (int64_t id : config_eos) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// The chat template, or why there is none (chat then answers 400 with the reason; completions still work).
std::optional<ChatTemplate> load_chat_template(const Tokenizer& tokenizer, std::string* why) {
  if (tokenizer.chat_template().empty()) {
    *why = "the tokenizer has no chat_template";
    return std::nullopt;
  }
  auto parsed = ChatTemplate::parse(tokenizer.chat_template());
  if (parsed.ok()) return std::move(*parsed);
  *why = "its chat template cannot be rendered: " + parsed.status().message();
  LOG_WARN("serve", "chat is disabled: " << *why);
  return std::nullopt;
}

Status check_replicas(const std::vector<std::unique_ptr<Replica>>& replicas, const Tokenizer& tokenizer) {
  if (replicas.empty()) return invalid_argument("no replica to serve");
  const ReplicaCapacity first = replicas[0]->capacity();
  for (const auto& r : replicas) {
    if (r->capacity().max_model_len != first.max_model_len || r->capacity().vocab_size != first.vocab_size) {
      return invalid_argument(r->describe() + " serves a different model shape than " + replicas[0]->describe());
    }
  }
  if (tokenizer.vocab_size() > first.vocab_size) {
    return invalid_argument("the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                            " tokens but the model's vocabulary has " + std::to_string(first.vocab_size));
  }
  return Status::ok_status();
}

void log_summary(const std::vector<std::unique_ptr<Replica>>& replicas, const ServiceConfig& config,
                 const Tokenizer& tokenizer, const ServeOptions& options) {
  for (const auto& r : replicas) {
    const ReplicaCapacity c = r->capacity();
    LOG_INFO("serve", r->describe() << ": " << c.n_kv_blocks << " KV blocks of " << c.block_size << " tokens ("
                                    << c.n_kv_blocks * c.block_size << " tokens)");
  }
  LOG_INFO("serve", "model '" << config.model_name << "' from " << config.model_root << ": max_model_len "
                              << config.max_model_len << ", vocabulary " << tokenizer.vocab_size() << ", "
                              << config.eos_ids.size() << " EOS ids, chat "
                              << (config.chat_unavailable.empty() ? "on" : "off (" + config.chat_unavailable + ")"));
  LOG_INFO("serve", "scheduler: max_batch_tokens " << options.scheduler.max_batch_tokens << ", max_running "
                                                   << options.scheduler.max_running << ", max_waiting "
                                                   << options.scheduler.max_waiting << ", prefix caching "
                                                   << (options.scheduler.prefix_caching ? "on" : "off"));
}

}  // namespace

std::string default_model_name(const std::string& model_dir) {
  std::string dir = model_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const size_t slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

Status serve_replicas(std::vector<std::unique_ptr<Replica>> replicas, const ServeOptions& options) {
  const std::string tokenizer_dir = options.tokenizer_dir.empty() ? options.model_dir : options.tokenizer_dir;
  auto tokenizer = Tokenizer::load(tokenizer_dir);
  if (!tokenizer.ok()) return tokenizer.status().with_context("tokenizer in " + tokenizer_dir);
  MIXSERVE_RETURN_IF_ERROR(check_replicas(replicas, **tokenizer));

  ServiceConfig config{
      .model_name = options.served_model_name.empty() ? default_model_name(options.model_dir)
                                                      : options.served_model_name,
      .model_root = options.model_dir,
      .max_model_len = replicas[0]->capacity().max_model_len,
      .eos_ids = merged_eos(**tokenizer, options.eos_ids)};
  std::optional<ChatTemplate> chat = load_chat_template(**tokenizer, &config.chat_unavailable);
  metrics::Registry registry;
  ServingMetrics metrics(registry);
  log_summary(replicas, config, **tokenizer, options);

  // Signals are caught from here on (before any thread starts, so every thread inherits the handling).
  boost::asio::io_context signal_ioc;
  boost::asio::signal_set signals(signal_ioc, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) received = signal;
  });

  auto engine = make_engine_core(std::move(replicas), options.scheduler, &metrics, config.model_name);
  auto service = std::make_unique<OpenAiService>(config, *engine, **tokenizer, chat ? &*chat : nullptr, registry,
                                                 metrics);
  HttpServerOptions http = options.http;
  http.on_rejected = [&metrics, name = config.model_name](int status) { metrics.count_error(name, status); };
  auto server = std::make_unique<HttpServer>(http, *service);
  const auto teardown = [&] {
    server->stop();
    engine.reset();  // drops the sinks, and with them the exchanges, while the server's io_context exists
    server.reset();
    service.reset();
  };
  if (Status started = server->start(); !started.ok()) {
    engine->drain(std::chrono::milliseconds(0));
    teardown();
    return started;
  }
  service->set_ready(true);
  LOG_INFO("serve", "ready: serving the OpenAI API on http://" << options.http.host << ":" << server->port()
                                                               << " with " << options.http.n_threads
                                                               << " HTTP threads");

  signal_ioc.run();  // until SIGTERM or SIGINT
  LOG_INFO("serve", "received " << strsignal(received) << ": draining (up to " << options.drain_timeout.count()
                                << " ms): /ready answers 503, in-flight requests finish");
  const auto deadline = Clock::now() + options.drain_timeout;
  service->begin_drain();
  engine->drain(options.drain_timeout);
  // The last answers may still be on their way out; give them until the deadline (and a little more).
  while (server->busy_exchanges() > 0 && Clock::now() < deadline + std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LOG_INFO("serve", "drained: " << service->in_flight() << " generation(s) unfinished, "
                                << server->busy_exchanges() << " answer(s) cut; exiting");
  teardown();
  return Status::ok_status();
}

}  // namespace mixserve
