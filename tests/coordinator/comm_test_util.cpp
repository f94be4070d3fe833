#include "comm_test_util.h"

#include <gtest/gtest.h>

#include <thread>

#include "comm/step_plan_convert.h"
#include "comm/tcp_connect.h"

namespace mixserve::test {

std::pair<Socket, Socket> loopback_pair(IoThread& io) {
  auto listener = Listener::open(io, "127.0.0.1", 0);
  EXPECT_TRUE(listener.ok()) << listener.status().to_string();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::optional<Socket> client;
  std::thread connector([&] {
    auto socket = connect_with_retry(io, "127.0.0.1", (*listener)->port(), deadline);
    EXPECT_TRUE(socket.ok()) << socket.status().to_string();
    if (socket.ok()) client.emplace(std::move(*socket));
  });
  auto server = (*listener)->accept(deadline);
  connector.join();
  EXPECT_TRUE(server.ok() && server->has_value());
  return {std::move(**server), std::move(*client)};
}

StepPlan random_plan(std::mt19937_64& rng, int max_sequences, int max_tokens) {
  std::uniform_int_distribution<int> n_seq(1, max_sequences), n_tok(1, max_tokens), token(0, 150000);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  StepPlan plan;
  const int n = n_seq(rng);
  for (int i = 0; i < n; ++i) {
    SequenceStep s{.seq_id = rng(),
                   .start_pos = static_cast<int64_t>(rng() % 100000),
                   .n_prompt_tokens = static_cast<int64_t>(rng() % 5000),
                   .sample = (rng() & 1) != 0,
                   .sampling = {.temperature = 2 * unit(rng),
                                .top_k = static_cast<int>(rng() % 100),
                                .top_p = unit(rng),
                                .min_p = unit(rng),
                                .repetition_penalty = 0.5f + unit(rng),
                                .presence_penalty = 4 * unit(rng) - 2,
                                .frequency_penalty = 4 * unit(rng) - 2,
                                .seed = rng(),
                                .n_logprobs = static_cast<int>(rng() % 20)},
                   .return_logits = (rng() & 1) != 0};
    for (int t = n_tok(rng); t > 0; --t) s.tokens.push_back(token(rng));
    for (int b = static_cast<int>(rng() % 40); b > 0; --b)
      s.block_table.push_back(static_cast<int32_t>(rng() % 100000));
    if (rng() & 1)
      for (int t = static_cast<int>(rng() % 64); t > 0; --t) s.prefix_tokens.push_back(token(rng));
    plan.sequences.push_back(std::move(s));
  }
  return plan;
}

proto::Envelope random_envelope(std::mt19937_64& rng) {
  proto::Envelope e;
  switch (rng() % 4) {
    case 0:
      *e.mutable_step_plan() = step_plan_to_proto(random_plan(rng, 8, 300), rng());
      break;
    case 1:
      e.mutable_release()->add_seq_ids(rng());
      break;
    case 2:
      e.mutable_hello()->set_world_rank(static_cast<int>(rng() % 64));
      e.mutable_hello()->set_host("h");
      break;
    default:
      e.mutable_step_result()->set_step_id(rng());
      e.mutable_step_result()->add_outputs()->set_seq_id(rng());
  }
  return e;
}

}  // namespace mixserve::test
