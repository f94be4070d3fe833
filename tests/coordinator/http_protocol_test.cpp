// The HTTP transport as a client sees it: routing errors, body limit, keep-alive and pipelining, request ids,
// a client that disconnects mid-stream, many concurrent streams, draining.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "http_test_support.h"
#include "test_support.h"

namespace mixserve::test {
namespace {

using json = nlohmann::json;

void expect_error_shape(const ClientResponse& r, int status, const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
  const json& e = body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r.body;
  EXPECT_TRUE(e["type"].is_string()) << r.body;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.body;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r.body;
  }
}

TEST(HttpProtocol, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  TestServer server;
  TestClient client(server.port());
  expect_error_shape(client.request("GET", "/v1/nothing"), 404);
  auto r = client.request("GET", "/v1/completions");
  expect_error_shape(r, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  expect_error_shape(client.request("DELETE", "/health"), 405);
  EXPECT_EQ(client.request("GET", "/health").status, 200);  // the same connection still serves
}

TEST(HttpProtocol, TenMegabyteBodyIs413AndServerKeepsServing) {
  TestServer server;
  TestClient client(server.port());
  const std::string body(10u << 20, 'x');
  client.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n");
  client.write_raw(body);  // the server reads and drops it after answering, so this does not block
  const ClientResponse r = client.read_response();
  expect_error_shape(r, 413);
  EXPECT_TRUE(client.peer_closed());
  EXPECT_EQ(TestClient(server.port()).request("GET", "/health").status, 200);
}

TEST(HttpProtocol, ChunkedBodyOverTheLimitIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  TestServer server({}, options);
  TestClient client(server.port());
  std::string chunk(800, ' ');
  client.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.write_raw("320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  expect_error_shape(client.read_response(), 413);
}

TEST(HttpProtocol, KeepAliveServesManyRequestsOnOneConnection) {
  TestServer server;
  TestClient client(server.port());
  auto rng = make_rng(1);
  for (int i = 0; i < 20; ++i) {
    const int max_tokens = 1 + static_cast<int>(rng() % 8);
    auto r = client.request("POST", "/v1/completions", json{{"prompt", "hi"}, {"max_tokens", max_tokens}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["usage"]["completion_tokens"], max_tokens);
    EXPECT_NE(r.headers["connection"], "close");
  }
  EXPECT_EQ(server.server().open_connections(), 1);
}

TEST(HttpProtocol, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server;
  TestClient client(server.port());
  std::string requests;
  for (int i = 1; i <= 3; ++i) {
    const std::string body = json{{"prompt", "x"}, {"max_tokens", i}}.dump();
    requests += "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nX-Request-Id: req-" + std::to_string(i) + "\r\n\r\n" + body;
  }
  client.write_raw(requests);
  for (int i = 1; i <= 3; ++i) {
    const ClientResponse r = client.read_response();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers.at("x-request-id"), "req-" + std::to_string(i));
    EXPECT_EQ(r.json()["usage"]["completion_tokens"], i);
  }
}

TEST(HttpProtocol, RequestIdIsEchoedOrMade) {
  TestServer server;
  TestClient client(server.port());
  const std::string id = "trace-" + std::to_string(make_rng(2)() % 100000);
  EXPECT_EQ(client.request("GET", "/health", "", {{"X-Request-Id", id}}).headers["x-request-id"], id);
  const std::string made = client.request("GET", "/health").headers["x-request-id"];
  EXPECT_EQ(made.size(), 16u);
  // A header that is not a sane token is replaced rather than echoed into our logs and answers.
  EXPECT_NE(client.request("GET", "/health", "", {{"X-Request-Id", "a b\tc"}}).headers["x-request-id"], "a b\tc");
}

TEST(HttpProtocol, MalformedHttpIs400) {
  TestServer server;
  TestClient client(server.port());
  client.write_raw("GARBAGE\r\n\r\n");
  expect_error_shape(client.read_response(), 400);
}

TEST(HttpProtocol, ClientDisconnectMidStreamCancelsTheRequest) {
  FakeScript script;
  script.step = std::chrono::milliseconds(20);  // 200 tokens take 4 s: the disconnect comes long before the end
  TestServer server(script);
  TestClient client(server.port());
  const std::string body = json{{"prompt", "go"}, {"max_tokens", 200}, {"stream", true}}.dump();
  client.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body);
  const std::string got = client.read_raw_until("data: ");
  ASSERT_NE(got.find("text/event-stream"), std::string::npos) << got;
  client.close();
  FakeEngine& engine = server.engine();
  ASSERT_EQ(engine.submitted().size(), 1u);
  const std::string id = engine.submitted()[0].request_id;
  EXPECT_TRUE(engine.wait_for([&] { return engine.was_cancelled(id); }, std::chrono::seconds(10)));
  EXPECT_TRUE(engine.wait_for([&] { return engine.running() == 0; }, std::chrono::seconds(10)));
  EXPECT_TRUE(engine.wait_for([&] { return server.service().in_flight() == 0; }, std::chrono::seconds(10)));
}

TEST(HttpProtocol, ClientDisconnectWhileWaitingForAWholeAnswerCancels) {
  FakeScript script;
  script.step = std::chrono::milliseconds(20);
  TestServer server(script);
  TestClient client(server.port());
  const std::string body = json{{"prompt", "go"}, {"max_tokens", 200}}.dump();
  client.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body);
  FakeEngine& engine = server.engine();
  ASSERT_TRUE(engine.wait_for([&] { return engine.submitted().size() == 1; }, std::chrono::seconds(10)));
  client.close();
  const std::string id = engine.submitted()[0].request_id;
  EXPECT_TRUE(engine.wait_for([&] { return engine.was_cancelled(id); }, std::chrono::seconds(10)));
}

TEST(HttpProtocol, TwoHundredConcurrentStreamsAllFinish) {
  TestServer server;
  auto rng = make_rng(3);
  std::vector<int> lengths;
  for (int i = 0; i < 200; ++i) lengths.push_back(1 + static_cast<int>(rng() % 24));
  std::vector<std::future<std::pair<int, std::string>>> results;
  for (int i = 0; i < 200; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      const json body = {{"prompt", "p"}, {"max_tokens", lengths[i]}, {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
      auto r = post_json(server.port(), "/v1/completions", body);
      return std::make_pair(r.status, r.body);
    }));
  }
  for (int i = 0; i < 200; ++i) {
    auto [status, body] = results[i].get();
    ASSERT_EQ(status, 200) << body;
    const auto events = sse_payloads(body);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events.back(), "[DONE]");
    EXPECT_EQ(json::parse(events[events.size() - 2])["usage"]["completion_tokens"], lengths[i]);
  }
  EXPECT_EQ(TestClient(server.port()).request("GET", "/health").status, 200);
  EXPECT_TRUE(server.engine().wait_for([&] { return server.service().in_flight() == 0; }, std::chrono::seconds(10)));
}

TEST(HttpProtocol, DrainingAnswers503OnReadyAndNewGenerations) {
  TestServer server;
  TestClient client(server.port());
  EXPECT_EQ(client.request("GET", "/ready").status, 200);
  server.service().begin_drain();
  auto ready = client.request("GET", "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.json()["status"], "draining");
  auto r = client.request("POST", "/v1/completions", json{{"prompt", "x"}}.dump());
  expect_error_shape(r, 503);
  EXPECT_EQ(r.headers["retry-after"], "1");
}

TEST(HttpProtocol, HealthAndReadyFollowTheReplicas) {
  TestServer server;
  TestClient client(server.port());
  EXPECT_EQ(client.request("GET", "/health").status, 200);
  server.engine().set_replicas_up(0);
  EXPECT_EQ(client.request("GET", "/health").status, 503);
  EXPECT_EQ(client.request("GET", "/ready").json()["status"], "replica_lost");
}

}  // namespace
}  // namespace mixserve::test
