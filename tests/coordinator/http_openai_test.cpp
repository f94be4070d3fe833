// The OpenAI routes over a real HTTP server and a fake engine: validation (400/404/429 with the error JSON),
// the shapes of completions and chat answers, n > 1, stop strings, logprobs, tokenize, models, metrics.
#include <gtest/gtest.h>

#include <string>

#include "http_test_support.h"
#include "test_support.h"

namespace mixserve::test {
namespace {

using json = nlohmann::json;

void expect_400(TestServer& server, const std::string& target, const json& body, const std::string& param) {
  const ClientResponse r = post_json(server.port(), target, body);
  EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body;
  const json parsed = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(parsed.contains("error")) << r.body;
  EXPECT_EQ(parsed["error"]["type"], "invalid_request_error");
  if (!param.empty()) {
    EXPECT_EQ(parsed["error"]["param"], param) << body.dump() << " -> " << r.body;
  }
  EXPECT_TRUE(parsed["error"]["message"].is_string());
  EXPECT_TRUE(parsed["error"].contains("code"));
}

TEST(HttpOpenAi, MalformedJsonIs400) {
  TestServer server;
  TestClient client(server.port());
  for (const char* body : {"{", "{\"prompt\": }", "[1, 2]", "\"text\"", "{\"prompt\": \"a\"} trailing"}) {
    const ClientResponse r = client.request("POST", "/v1/completions", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(r.json()["error"]["message"].is_string());
  }
  EXPECT_TRUE(server.engine().submitted().empty());
}

TEST(HttpOpenAi, WrongTypesAre400NamingTheField) {
  TestServer server;
  const json base = {{"prompt", "hello"}};
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"max_tokens", "5"}}, "max_tokens"},       {{{"max_tokens", 2.5}}, "max_tokens"},
      {{{"temperature", "hot"}}, "temperature"},   {{{"top_p", true}}, "top_p"},
      {{{"n", 1.5}}, "n"},                         {{{"stream", "yes"}}, "stream"},
      {{{"stop", 5}}, "stop"},                     {{{"stop", {"a", 1}}}, "stop"},
      {{{"seed", "42"}}, "seed"},                  {{{"logprobs", true}}, "logprobs"},
      {{{"presence_penalty", "x"}}, "presence_penalty"}, {{{"ignore_eos", 1}}, "ignore_eos"},
      {{{"user", 7}}, "user"},                     {{{"model", 3}}, "model"},
      {{{"stream", true}, {"stream_options", 1}}, "stream_options"},
  };
  for (const auto& [fields, param] : cases) {
    json body = base;
    body.update(fields);
    expect_400(server, "/v1/completions", body, param);
  }
  expect_400(server, "/v1/completions", json{{"prompt", 5}}, "prompt");
  expect_400(server, "/v1/completions", json{{"prompt", {1, "a"}}}, "prompt");
  expect_400(server, "/v1/completions", json::object(), "prompt");
  expect_400(server, "/v1/chat/completions", json{{"messages", "hi"}}, "messages");
  expect_400(server, "/v1/chat/completions", json{{"messages", {{{"role", 1}, {"content", "x"}}}}}, "messages[0].role");
  expect_400(server, "/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", 3}}}}},
             "messages[0].content");
  expect_400(server, "/v1/chat/completions",
             json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"logprobs", 2}}, "logprobs");
  EXPECT_TRUE(server.engine().submitted().empty());
}

TEST(HttpOpenAi, OutOfRangeValuesAre400) {
  TestServer server;
  auto rng = make_rng(10);
  const int negative = -1 - static_cast<int>(rng() % 1000);
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"max_tokens", negative}}, "max_tokens"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"temperature", 2.0 + 0.01 * (1 + rng() % 100)}}, "temperature"},
      {{{"temperature", -0.5}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},
      {{{"top_p", 1.5}}, "top_p"},
      {{{"n", 0}}, "n"},
      {{{"n", 129}}, "n"},
      {{{"presence_penalty", 2.5}}, "presence_penalty"},
      {{{"frequency_penalty", -3}}, "frequency_penalty"},
      {{{"logprobs", 21}}, "logprobs"},
      {{{"min_p", 1.5}}, "min_p"},
      {{{"top_k", -2}}, "top_k"},
      {{{"repetition_penalty", 0}}, "repetition_penalty"},
      {{{"stop", ""}}, "stop"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},  // without stream: true
      {{{"logit_bias", {{"50", 10}}}}, "logit_bias"},                        // known but not implemented
      {{{"echo", true}}, "echo"},
  };
  for (const auto& [fields, param] : cases) {
    json body = {{"prompt", "hello"}};
    body.update(fields);
    expect_400(server, "/v1/completions", body, param);
  }
  expect_400(server, "/v1/completions", json{{"prompt", {1, 2, 99999}}}, "prompt");  // outside the vocabulary
  expect_400(server, "/v1/chat/completions",
             json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"top_logprobs", 3}}, "top_logprobs");
  expect_400(server, "/v1/chat/completions",
             json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"tools", {{{"type", "function"}}}}}, "tools");
  expect_400(server, "/v1/chat/completions",
             json{{"messages", {{{"role", "pirate"}, {"content", "x"}}}}}, "messages[0].role");
  EXPECT_TRUE(server.engine().submitted().empty());
}

TEST(HttpOpenAi, PromptLongerThanTheContextIs400) {
  TestServer server({}, {}, /*max_model_len=*/64);
  const std::string long_prompt(64 + make_rng(11)() % 64, 'a');
  ClientResponse r = post_json(server.port(), "/v1/completions", {{"prompt", long_prompt}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "context_length_exceeded");
  r = post_json(server.port(), "/v1/completions", {{"prompt", "abc"}, {"max_tokens", 62}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json()["error"]["param"], "max_tokens");
  // Without max_tokens the budget is clamped to the room left: 4 prompt tokens (BOS + 3) leave 60.
  r = post_json(server.port(), "/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "x"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(server.engine().submitted().size(), 1u);
  const GenerationRequest submitted = server.engine().submitted()[0];
  EXPECT_EQ(submitted.max_tokens + static_cast<int64_t>(submitted.prompt.size()), 64);
}

TEST(HttpOpenAi, UnknownModelIs404) {
  TestServer server;
  const ClientResponse r = post_json(server.port(), "/v1/completions", {{"model", "gpt-9"}, {"prompt", "x"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"]["code"], "model_not_found");
  EXPECT_EQ(post_json(server.port(), "/v1/completions", {{"model", "test-model"}, {"prompt", "x"}}).status, 200);
  EXPECT_EQ(TestClient(server.port()).request("GET", "/v1/models/gpt-9").status, 404);
}

TEST(HttpOpenAi, QueueFullIs429WithRetryAfter) {
  TestServer server;
  server.engine().refuse_with({StatusCode::resource_exhausted, "waiting queue is full"});
  const ClientResponse r = post_json(server.port(), "/v1/completions", {{"prompt", "x"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.at("retry-after"), "1");
  server.engine().refuse_with(unavailable("no replica is up"));
  EXPECT_EQ(post_json(server.port(), "/v1/completions", {{"prompt", "x"}}).status, 503);
}

TEST(HttpOpenAi, CompletionShapeAndRequestFields) {
  TestServer server;
  auto rng = make_rng(12);
  const int max_tokens = 3 + static_cast<int>(rng() % 10);
  const uint64_t seed = rng() % 1000000;
  const json body = {{"model", "test-model"}, {"prompt", "abc"}, {"max_tokens", max_tokens}, {"temperature", 0.5},
                     {"top_p", 0.9}, {"top_k", 7}, {"seed", seed}, {"presence_penalty", 0.5},
                     {"frequency_penalty", -0.5}, {"repetition_penalty", 1.1}, {"min_p", 0.05}, {"user", "u"}};
  const ClientResponse r = post_json(server.port(), "/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("cmpl-"));
  EXPECT_EQ(j["model"], "test-model");
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], std::string("hello world, hello world, ").substr(0, max_tokens));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"]["prompt_tokens"], 4);  // BOS + 3 bytes
  EXPECT_EQ(j["usage"]["completion_tokens"], max_tokens);
  EXPECT_EQ(j["usage"]["total_tokens"], 4 + max_tokens);
  const GenerationRequest g = server.engine().submitted().at(0);
  EXPECT_EQ(g.prompt, (std::vector<int32_t>{kBos, 'a', 'b', 'c'}));
  EXPECT_EQ(g.max_tokens, max_tokens);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.9f);
  EXPECT_EQ(g.sampling.top_k, 7);
  EXPECT_EQ(g.sampling.seed, seed);
  EXPECT_FLOAT_EQ(g.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(g.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(g.sampling.repetition_penalty, 1.1f);
  EXPECT_FLOAT_EQ(g.sampling.min_p, 0.05f);
  EXPECT_EQ(g.eos_ids, std::vector<int32_t>{kEos});
}

TEST(HttpOpenAi, TokenIdPromptsAndSeveralPrompts) {
  TestServer server;
  const ClientResponse r =
      post_json(server.port(), "/v1/completions", {{"prompt", {{1, 2, 3}, {4, 5}}}, {"max_tokens", 2}, {"n", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  ASSERT_EQ(j["choices"].size(), 4u);  // prompt-major: prompt p choice c at p * n + c
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 8);
  ASSERT_EQ(server.engine().submitted().size(), 2u);
  EXPECT_EQ(server.engine().submitted()[1].prompt, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(server.engine().submitted()[1].n, 2);
}

TEST(HttpOpenAi, StopStringCutsTheTextAndCancelsTheChoice) {
  TestServer server;
  const ClientResponse r =
      post_json(server.port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 50}, {"stop", {"zzz", "wor"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["choices"][0]["text"], "hello ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["completion_tokens"], 9);  // "hello wor": the token completing the stop string counts
  EXPECT_EQ(server.engine().choice_cancels(), 1);
}

TEST(HttpOpenAi, EosFinishesWithStopAndIsNotShown) {
  FakeScript script;
  script.eos_after = 5;
  TestServer server(script);
  ClientResponse r = post_json(server.port(), "/v1/completions",
                               {{"prompt", "x"}, {"max_tokens", 50}, {"skip_special_tokens", false}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["text"], "hello");
  EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r.json()["usage"]["completion_tokens"], 6);
  r = post_json(server.port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 8}, {"ignore_eos", true}});
  EXPECT_TRUE(server.engine().submitted().back().eos_ids.empty());
  EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "length");
}

TEST(HttpOpenAi, CompletionLogprobs) {
  TestServer server;
  const ClientResponse r =
      post_json(server.port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 4}, {"logprobs", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json lp = r.json()["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json({"h", "e", "l", "l"}));
  ASSERT_EQ(lp["token_logprobs"].size(), 4u);
  EXPECT_FLOAT_EQ(lp["token_logprobs"][1].get<float>(), -0.5f);
  EXPECT_EQ(lp["text_offset"], json({0, 1, 2, 3}));
  ASSERT_EQ(lp["top_logprobs"].size(), 4u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  EXPECT_TRUE(lp["top_logprobs"][0].contains("h"));
  EXPECT_TRUE(lp["top_logprobs"][0].contains("i"));
  EXPECT_EQ(server.engine().submitted()[0].sampling.n_logprobs, 2);
}

TEST(HttpOpenAi, ChatShapeLogprobsAndN) {
  TestServer server;
  const json body = {{"messages", {{{"role", "system"}, {"content", "be brief"}},
                                   {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "hi"}}}}}}},
                     {"max_completion_tokens", 3}, {"max_tokens", 99}, {"n", 2}, {"logprobs", true},
                     {"top_logprobs", 1}};
  const ClientResponse r = post_json(server.port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-"));
  ASSERT_EQ(j["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& c = j["choices"][i];
    EXPECT_EQ(c["index"], i);
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_EQ(c["message"]["content"], "hel");
    EXPECT_EQ(c["finish_reason"], "length");
    ASSERT_EQ(c["logprobs"]["content"].size(), 3u);
    const json& t = c["logprobs"]["content"][0];
    EXPECT_EQ(t["token"], "h");
    EXPECT_EQ(t["bytes"], json({104}));
    ASSERT_EQ(t["top_logprobs"].size(), 1u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], "h");
  }
  const GenerationRequest g = server.engine().submitted().at(0);
  const std::string expected_prompt = "<s><|system|>be brief\n<|user|>hi\n<|assistant|>";
  ASSERT_EQ(g.prompt.size(), expected_prompt.size() - 2);  // "<s>" is one token, written by the template
  EXPECT_EQ(g.prompt[0], kBos);
  EXPECT_EQ(g.max_tokens, 3);  // max_completion_tokens wins over max_tokens
  EXPECT_EQ(g.n, 2);
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);
}

TEST(HttpOpenAi, TokenizeDetokenizeModelsAndMetrics) {
  TestServer server;
  TestClient client(server.port());
  ClientResponse r = client.request("POST", "/tokenize", json{{"prompt", "hé"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["tokens"], json({kBos, 'h', 0xC3, 0xA9}));
  EXPECT_EQ(r.json()["count"], 4);
  EXPECT_EQ(r.json()["max_model_len"], 256);
  r = client.request("POST", "/tokenize",
                     json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"add_generation_prompt", false}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["count"], std::string("<|user|>x\n").size() + 1);
  r = client.request("POST", "/detokenize", json{{"tokens", {kBos, 'h', 0xC3, 0xA9}}}.dump());
  EXPECT_EQ(r.json()["prompt"], "<s>hé");
  EXPECT_EQ(client.request("POST", "/detokenize", json{{"tokens", {-1}}}.dump()).status, 400);
  r = client.request("GET", "/v1/models");
  EXPECT_EQ(r.json()["object"], "list");
  EXPECT_EQ(r.json()["data"][0]["id"], "test-model");
  EXPECT_EQ(r.json()["data"][0]["max_model_len"], 256);
  EXPECT_EQ(client.request("GET", "/v1/models/test-model").json()["id"], "test-model");
  client.request("POST", "/v1/completions", "{");  // one more 400
  r = client.request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.headers["content-type"].starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(r.body.find("mixserve_request_errors_total{model_name=\"test-model\",code=\"400\"} 2"), std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace mixserve::test
