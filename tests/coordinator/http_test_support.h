#pragma once
// What the HTTP/OpenAI tests share: a byte-level tokenizer (ids 0-255 are bytes, 256 <s>, 257 </s>), a fake
// EngineCore that plays scripted tokens on its own threads like a scheduler would, an in-process server on
// 127.0.0.1 wired to them, and a small HTTP client with timeouts (every wait is bounded).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <nlohmann/json.hpp>

#include "coordinator/chat/chat_template.h"
#include "coordinator/http/http_server.h"
#include "coordinator/metrics/registry.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/openai/openai_service.h"
#include "coordinator/serving/engine_core.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace mixserve::test {

inline constexpr int32_t kBos = 256;
inline constexpr int32_t kEos = 257;

class ByteTokenizer final : public Tokenizer {
 public:
  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special_tokens) const override;
  // Bytes as UTF-8 with HF's errors="replace": an incomplete or invalid sequence reads as U+FFFD.
  Result<std::string> decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override;
  int64_t vocab_size() const override { return 258; }
  int32_t bos_id() const override { return kBos; }
  std::vector<int32_t> eos_ids() const override { return {kEos}; }
  bool is_special(int32_t id) const override { return id >= 256; }
  std::string token_text(int32_t id) const override;
  const std::string& chat_template() const override { return template_; }
  const std::string& bos_token() const override { return bos_; }
  const std::string& eos_token() const override { return eos_; }

 private:
  std::string template_ =
      "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
      "{% if add_generation_prompt %}<|assistant|>{% endif %}";
  std::string bos_ = "<s>";
  std::string eos_ = "</s>";
};

// Plays, for every choice, the bytes of `text` (cyclically) as tokens, one per step, then EOS after
// eos_after tokens (when the request has EOS ids) or stops at max_tokens. Each request runs on its own thread.
struct FakeScript {
  std::string text = "hello world, ";
  int64_t eos_after = -1;  // < 0: never
  int64_t fail_after = -1; // >= 0: after this many tokens every choice finishes with an error (replica lost)
  std::chrono::microseconds step{200};
};

class FakeEngine final : public EngineCore {
 public:
  explicit FakeEngine(FakeScript script = {}) : script_(std::move(script)) {}
  ~FakeEngine() override;

  Status submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void cancel(const std::string& request_id) override;
  void cancel_choice(const std::string& request_id, int choice) override;
  EngineSnapshot snapshot() const override;
  void drain(std::chrono::milliseconds deadline) override;

  void refuse_with(Status status);  // submit() answers this from now on
  void set_replicas_up(int up) { replicas_up_ = up; }
  std::vector<GenerationRequest> submitted() const;
  bool was_cancelled(const std::string& request_id) const;
  int64_t choice_cancels() const { return choice_cancels_.load(); }
  int64_t running() const { return running_.load(); }
  int64_t peak_running() const { return peak_running_.load(); }
  // Waits (bounded) until `predicate` holds; false on timeout.
  bool wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) const;

 private:
  struct Job;
  void run(std::shared_ptr<Job> job);

  FakeScript script_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::optional<Status> refusal_;
  std::vector<GenerationRequest> submitted_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::set<std::string> cancelled_;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> running_{0};
  std::atomic<int64_t> peak_running_{0};
  std::atomic<int64_t> choice_cancels_{0};
  std::atomic<int> replicas_up_{1};
  bool draining_ = false;
};

// The service and server on 127.0.0.1:<ephemeral> over a FakeEngine; torn down in the order the server asks.
class TestServer {
 public:
  explicit TestServer(FakeScript script = {}, HttpServerOptions http = {}, int64_t max_model_len = 256);
  ~TestServer();
  uint16_t port() const { return server_->port(); }
  FakeEngine& engine() { return *engine_; }
  OpenAiService& service() { return *service_; }
  HttpServer& server() { return *server_; }

 private:
  ByteTokenizer tokenizer_;
  std::optional<ChatTemplate> chat_;
  metrics::Registry registry_;
  ServingMetrics metrics_{registry_};
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<OpenAiService> service_;
  std::unique_ptr<HttpServer> server_;
};

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// One client connection; every operation gives up after `timeout` (then the test fails on what it got).
class TestClient {
 public:
  explicit TestClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  ClientResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::vector<std::pair<std::string, std::string>>& headers = {});
  void write_raw(const std::string& bytes);
  ClientResponse read_response();
  // Raw bytes until `needle` has been seen (or timeout / EOF); returns everything read.
  std::string read_raw_until(const std::string& needle);
  bool peer_closed();  // reads until EOF or timeout: true on EOF
  void close();

 private:
  template <typename Start>
  boost::beast::error_code run(Start start);
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

// POST with a JSON body on a fresh connection.
ClientResponse post_json(uint16_t port, const std::string& target, const nlohmann::json& body);
// The data payloads of a text/event-stream body, in order; ADD_FAILURE on framing other than "data: x\n\n".
std::vector<std::string> sse_payloads(const std::string& body);

}  // namespace mixserve::test
