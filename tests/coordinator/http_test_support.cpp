#include "http_test_support.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>

namespace mixserve::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// ---- ByteTokenizer ----

Result<std::vector<int32_t>> ByteTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  if (add_special_tokens) ids.push_back(kBos);
  // Special tokens written in the text are recognised, as HF tokenizers do (chat templates write "<s>").
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i).starts_with("<s>")) {
      ids.push_back(kBos);
      i += 3;
    } else if (text.substr(i).starts_with("</s>")) {
      ids.push_back(kEos);
      i += 4;
    } else {
      ids.push_back(static_cast<unsigned char>(text[i++]));
    }
  }
  return ids;
}

Result<std::string> ByteTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) return out_of_range("token id " + std::to_string(id) + " is not in the vocabulary");
    if (id < 256) {
      bytes.push_back(static_cast<char>(id));
    } else if (!skip_special_tokens) {
      bytes += token_text(id);
    }
  }
  // Python's bytes.decode("utf-8", errors="replace"): each bad or truncated sequence becomes U+FFFD.
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    const size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= bytes.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(bytes, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
      while (i < bytes.size() && (static_cast<unsigned char>(bytes[i]) & 0xC0) == 0x80) ++i;
    }
  }
  return out;
}

std::string ByteTokenizer::token_text(int32_t id) const {
  if (id == kBos) return "<s>";
  if (id == kEos) return "</s>";
  return std::string(1, static_cast<char>(id));
}

// ---- FakeEngine ----

struct FakeEngine::Job {
  GenerationRequest request;
  std::shared_ptr<RequestSink> sink;
  std::atomic<bool> cancel_all{false};
  std::vector<std::atomic<bool>> cancel_choice;
  explicit Job(int n) : cancel_choice(n) {}
};

FakeEngine::~FakeEngine() { drain(std::chrono::milliseconds(0)); }

Status FakeEngine::submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  std::lock_guard lock(mutex_);
  if (draining_) return unavailable("draining");
  if (refusal_) return *refusal_;
  submitted_.push_back(request);
  auto job = std::make_shared<Job>(request.n);
  job->request = std::move(request);
  job->sink = std::move(sink);
  jobs_[job->request.request_id] = job;
  peak_running_.store(std::max(peak_running_.load(), ++running_));
  threads_.emplace_back([this, job] { run(job); });
  return Status::ok_status();
}

void FakeEngine::run(std::shared_ptr<Job> job) {
  const GenerationRequest& r = job->request;
  const bool use_eos = !r.eos_ids.empty() && script_.eos_after >= 0;
  std::vector<bool> done(r.n, false);
  int n_done = 0;
  for (int64_t step = 0; n_done < r.n; ++step) {
    for (int c = 0; c < r.n; ++c) {
      if (done[c]) continue;
      if (job->cancel_all || job->cancel_choice[c]) {
        done[c] = true;
        ++n_done;
        job->sink->on_finished(c, FinishReason::cancelled, Status::ok_status());
        continue;
      }
      if (step == script_.fail_after) {
        done[c] = true;
        ++n_done;
        job->sink->on_finished(c, FinishReason::error, unavailable("replica 0 lost: worker rank 1 died"));
        continue;
      }
      const bool eos = use_eos && step == script_.eos_after;
      TokenOutput out{.token = eos ? kEos : static_cast<unsigned char>(script_.text[step % script_.text.size()]),
                      .logprob = -0.25f * static_cast<float>(1 + step % 3)};
      for (int k = 0; k < r.sampling.n_logprobs; ++k) {
        out.top_logprobs.emplace_back((out.token + k) % 256, out.logprob - static_cast<float>(k));
      }
      job->sink->on_tokens(c, {out});
      if (eos || step + 1 >= r.max_tokens) {
        done[c] = true;
        ++n_done;
        job->sink->on_finished(c, eos ? FinishReason::stop : FinishReason::length, Status::ok_status());
      }
    }
    if (n_done < r.n) std::this_thread::sleep_for(script_.step);
  }
  std::lock_guard lock(mutex_);
  jobs_.erase(r.request_id);
  --running_;
  changed_.notify_all();
}

void FakeEngine::cancel(const std::string& request_id) {
  std::lock_guard lock(mutex_);
  cancelled_.insert(request_id);
  if (auto it = jobs_.find(request_id); it != jobs_.end()) it->second->cancel_all = true;
  changed_.notify_all();
}

void FakeEngine::cancel_choice(const std::string& request_id, int choice) {
  std::lock_guard lock(mutex_);
  ++choice_cancels_;
  if (auto it = jobs_.find(request_id); it != jobs_.end()) it->second->cancel_choice.at(choice) = true;
}

EngineSnapshot FakeEngine::snapshot() const {
  return {.n_replicas = 1, .n_replicas_up = replicas_up_.load(), .n_running = running_.load()};
}

void FakeEngine::drain(std::chrono::milliseconds) {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void FakeEngine::refuse_with(Status status) {
  std::lock_guard lock(mutex_);
  refusal_ = std::move(status);
}

std::vector<GenerationRequest> FakeEngine::submitted() const {
  std::lock_guard lock(mutex_);
  return submitted_;
}

bool FakeEngine::was_cancelled(const std::string& request_id) const {
  std::lock_guard lock(mutex_);
  return cancelled_.count(request_id) > 0;
}

bool FakeEngine::wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// ---- TestServer ----

TestServer::TestServer(FakeScript script, HttpServerOptions http, int64_t max_model_len) {
  auto parsed = ChatTemplate::parse(tokenizer_.chat_template());
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
  if (parsed.ok()) chat_.emplace(std::move(*parsed));
  engine_ = std::make_unique<FakeEngine>(std::move(script));
  ServiceConfig config{.model_name = "test-model", .model_root = "/models/test", .max_model_len = max_model_len,
                       .eos_ids = {kEos}};
  service_ = std::make_unique<OpenAiService>(config, *engine_, tokenizer_, chat_ ? &*chat_ : nullptr, registry_,
                                             metrics_);
  service_->set_ready(true);
  http.host = "127.0.0.1";
  http.port = 0;
  server_ = std::make_unique<HttpServer>(http, *service_);
  const Status started = server_->start();
  EXPECT_TRUE(started.ok()) << started.to_string();
}

TestServer::~TestServer() {
  server_->stop();
  engine_.reset();
  server_.reset();
  service_.reset();
}

// ---- TestClient ----

TestClient::TestClient(uint16_t port, std::chrono::milliseconds timeout) : stream_(ioc_), timeout_(timeout) {
  const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
  const auto ec = run([&](auto done) { stream_.async_connect(endpoint, [done](beast::error_code e) { done(e); }); });
  EXPECT_FALSE(ec) << "connect: " << ec.message();
}

template <typename Start>
beast::error_code TestClient::run(Start start) {
  beast::error_code result = net::error::timed_out;
  bool finished = false;
  stream_.expires_after(timeout_);
  start([&](beast::error_code ec) {
    result = ec;
    finished = true;
  });
  ioc_.restart();
  while (!finished && ioc_.run_one() > 0) {
  }
  return result;
}

void TestClient::write_raw(const std::string& bytes) {
  const auto ec = run([&](auto done) {
    net::async_write(stream_, net::buffer(bytes), [done](beast::error_code e, size_t) { done(e); });
  });
  EXPECT_FALSE(ec) << "write: " << ec.message();
}

ClientResponse TestClient::request(const std::string& method, const std::string& target, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  const auto ec = run([&](auto done) { http::async_write(stream_, req, [done](beast::error_code e, size_t) { done(e); }); });
  EXPECT_FALSE(ec) << "write: " << ec.message();
  return read_response();
}

ClientResponse TestClient::read_response() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64ull << 20);
  const auto ec = run([&](auto done) { http::async_read(stream_, buffer_, parser, [done](beast::error_code e, size_t) { done(e); }); });
  ClientResponse out;
  if (ec) {
    ADD_FAILURE() << "read: " << ec.message();
    return out;
  }
  auto message = parser.release();
  out.status = static_cast<int>(message.result_int());
  for (const auto& f : message) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(f.value());
  }
  out.body = std::move(message.body());
  return out;
}

std::string TestClient::read_raw_until(const std::string& needle) {
  std::string got(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  char chunk[4096];
  while (got.find(needle) == std::string::npos) {
    size_t n = 0;
    const auto ec = run([&](auto done) {
      stream_.async_read_some(net::buffer(chunk), [done, &n](beast::error_code e, size_t k) {
        n = k;
        done(e);
      });
    });
    got.append(chunk, n);
    if (ec) break;
  }
  return got;
}

bool TestClient::peer_closed() {
  char chunk[4096];
  for (;;) {
    const auto ec = run([&](auto done) {
      stream_.async_read_some(net::buffer(chunk), [done](beast::error_code e, size_t) { done(e); });
    });
    if (ec == net::error::eof || ec == net::error::connection_reset) return true;
    if (ec) return false;
  }
}

void TestClient::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

ClientResponse post_json(uint16_t port, const std::string& target, const nlohmann::json& body) {
  TestClient client(port);
  return client.request("POST", target, body.dump());
}

std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos || body.compare(pos, 6, "data: ") != 0) {
      ADD_FAILURE() << "not an SSE event at offset " << pos << ": " << body.substr(pos, 80);
      break;
    }
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

}  // namespace mixserve::test
