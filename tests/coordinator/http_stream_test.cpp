// Streaming answers: SSE framing on the wire (chunked, "data: {json}\n\n", "data: [DONE]\n\n"), include_usage,
// chat deltas, n > 1, stop strings never split across chunks, text only at UTF-8 boundaries, logprobs.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http_test_support.h"
#include "test_support.h"

namespace mixserve::test {
namespace {

using json = nlohmann::json;

struct Stream {
  ClientResponse response;
  std::vector<json> chunks;  // every event but [DONE]
  bool done = false;         // the last event was [DONE]
};

Stream stream(TestServer& server, const std::string& target, json body) {
  body["stream"] = true;
  Stream s;
  s.response = post_json(server.port(), target, body);
  const auto events = sse_payloads(s.response.body);
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i] == "[DONE]") {
      s.done = i + 1 == events.size();
      continue;
    }
    s.chunks.push_back(json::parse(events[i], nullptr, false));
    EXPECT_FALSE(s.chunks.back().is_discarded()) << events[i];
  }
  return s;
}

// Text per choice index, concatenated over the chunks.
std::map<int, std::string> texts(const Stream& s, bool chat) {
  std::map<int, std::string> out;
  for (const auto& c : s.chunks) {
    for (const auto& choice : c["choices"]) {
      const json& piece = chat ? choice["delta"].value("content", json("")) : choice["text"];
      out[choice["index"].get<int>()] += piece.get<std::string>();
    }
  }
  return out;
}

TEST(HttpStream, WireFramingIsChunkedServerSentEvents) {
  TestServer server;
  TestClient client(server.port());
  const std::string body = json{{"prompt", "x"}, {"max_tokens", 3}, {"stream", true}}.dump();
  client.write_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body);
  const std::string raw = client.read_raw_until("0\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Content-Type: text/event-stream\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Cache-Control: no-cache\r\n"), std::string::npos) << raw;
  // Each event travels in its own chunk: "<hex size>\r\ndata: ...\n\n\r\n".
  const std::string done = "data: [DONE]\n\n";
  char size_line[16];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", done.size());
  EXPECT_NE(raw.find(std::string(size_line) + done + "\r\n0\r\n\r\n"), std::string::npos) << raw;
  // The connection is kept: a second request on it works.
  EXPECT_EQ(client.request("GET", "/health").status, 200);
}

TEST(HttpStream, CompletionChunksWithoutUsageOmitIt) {
  TestServer server;
  const Stream s = stream(server, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 5}});
  ASSERT_EQ(s.response.status, 200);
  EXPECT_TRUE(s.done);
  ASSERT_FALSE(s.chunks.empty());
  for (const auto& c : s.chunks) {
    EXPECT_EQ(c["object"], "text_completion");
    EXPECT_FALSE(c.contains("usage"));
  }
  EXPECT_EQ(texts(s, false)[0], "hello");
  EXPECT_EQ(s.chunks.back()["choices"][0]["finish_reason"], "length");
}

TEST(HttpStream, IncludeUsageEndsWithAUsageChunkAndNullElsewhere) {
  TestServer server;
  const int max_tokens = 2 + static_cast<int>(make_rng(20)() % 10);
  const Stream s = stream(server, "/v1/chat/completions",
                          {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", max_tokens},
                           {"stream_options", {{"include_usage", true}}}});
  ASSERT_EQ(s.response.status, 200) << s.response.body;
  EXPECT_TRUE(s.done);
  ASSERT_GE(s.chunks.size(), 3u);
  const json& last = s.chunks.back();
  EXPECT_EQ(last["choices"], json::array());
  EXPECT_EQ(last["usage"]["completion_tokens"], max_tokens);
  EXPECT_EQ(last["usage"]["total_tokens"],
            last["usage"]["prompt_tokens"].get<int>() + last["usage"]["completion_tokens"].get<int>());
  for (size_t i = 0; i + 1 < s.chunks.size(); ++i) {
    EXPECT_EQ(s.chunks[i]["object"], "chat.completion.chunk");
    EXPECT_TRUE(s.chunks[i].contains("usage") && s.chunks[i]["usage"].is_null()) << s.chunks[i].dump();
  }
  EXPECT_EQ(s.chunks[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  const json& finish = s.chunks[s.chunks.size() - 2]["choices"][0];
  EXPECT_EQ(finish["finish_reason"], "length");
  EXPECT_EQ(texts(s, true)[0], std::string("hello world, ").substr(0, max_tokens));
}

TEST(HttpStream, SeveralChoicesEachFinishOnce) {
  TestServer server;
  const Stream s = stream(server, "/v1/chat/completions",
                          {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}, {"n", 3}});
  ASSERT_EQ(s.response.status, 200);
  std::map<int, int> finishes, roles;
  for (const auto& c : s.chunks) {
    for (const auto& choice : c["choices"]) {
      if (!choice["finish_reason"].is_null()) ++finishes[choice["index"].get<int>()];
      if (choice["delta"].contains("role")) ++roles[choice["index"].get<int>()];
    }
  }
  EXPECT_EQ(finishes, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(roles, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
  const auto t = texts(s, true);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.at(i), "hell");
}

TEST(HttpStream, StopStringIsNeverSplitAcrossChunks) {
  FakeScript script;
  script.text = "abcabxabcd-tail";
  TestServer server(script);
  const Stream s = stream(server, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 40}, {"stop", "abcd"}});
  ASSERT_EQ(s.response.status, 200);
  EXPECT_EQ(texts(s, false)[0], "abcabx");
  for (const auto& c : s.chunks) {
    const std::string piece = c["choices"][0]["text"];
    EXPECT_EQ(piece.find("abcd"), std::string::npos);
  }
  EXPECT_EQ(s.chunks.back()["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(server.engine().choice_cancels(), 1);
}

TEST(HttpStream, TextIsStreamedOnlyAtUtf8Boundaries) {
  FakeScript script;
  script.text = "h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x99\x82!";  // h, e-acute, euro sign, a 4-byte emoji, !
  TestServer server(script);
  const Stream s = stream(server, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 11}});
  ASSERT_EQ(s.response.status, 200);
  std::string all;
  for (const auto& c : s.chunks) {
    const std::string piece = c["choices"][0]["text"];
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << "a chunk split a character";
    all += piece;
  }
  EXPECT_EQ(all, script.text);
}

TEST(HttpStream, LogprobsRideWithTheirChunks) {
  TestServer server;
  const Stream s = stream(server, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 6}, {"logprobs", 1}});
  ASSERT_EQ(s.response.status, 200);
  std::vector<std::string> tokens;
  std::vector<size_t> offsets;
  for (const auto& c : s.chunks) {
    const json& lp = c["choices"][0]["logprobs"];
    ASSERT_TRUE(lp.is_object()) << c.dump();
    EXPECT_EQ(lp["tokens"].size(), lp["token_logprobs"].size());
    EXPECT_EQ(lp["tokens"].size(), lp["top_logprobs"].size());
    for (const auto& t : lp["tokens"]) tokens.push_back(t);
    for (const auto& o : lp["text_offset"]) offsets.push_back(o);
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"h", "e", "l", "l", "o", " "}));
  EXPECT_EQ(offsets, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(HttpStream, RefusedStreamIsAPlainErrorAnswer) {
  TestServer server;
  server.engine().refuse_with(unavailable("no replica is up"));
  ClientResponse r = post_json(server.port(), "/v1/completions", {{"prompt", "x"}, {"stream", true}});
  EXPECT_EQ(r.status, 503);  // refused before the stream opened
  EXPECT_EQ(r.json()["error"]["code"], "service_unavailable");
}

TEST(HttpStream, ReplicaLostMidStreamSendsAnErrorEventThenDone) {
  FakeScript script;
  script.fail_after = 3;
  TestServer server(script);
  const Stream s = stream(server, "/v1/completions", {{"prompt", "x"}, {"max_tokens", 50}});
  ASSERT_EQ(s.response.status, 200);
  EXPECT_TRUE(s.done);
  ASSERT_FALSE(s.chunks.empty());
  EXPECT_EQ(s.chunks.back()["error"]["code"], "service_unavailable") << s.response.body;
  EXPECT_NE(s.chunks.back()["error"]["message"].get<std::string>().find("lost"), std::string::npos);
  // Without streaming the same failure is a 503 answer.
  const ClientResponse r = post_json(server.port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 50}});
  EXPECT_EQ(r.status, 503);
}

}  // namespace
}  // namespace mixserve::test
