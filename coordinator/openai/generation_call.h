#pragma once
// GenerationCall: one /v1/completions or /v1/chat/completions request from submission to its last byte. It
// submits one engine request per prompt (each with n choices), receives their tokens through RequestSinks,
// detokenizes each choice incrementally (IncrementalDecoder: whole UTF-8 characters only, stop strings held
// back and cut), cancels a choice whose stop string matched, and answers either with one JSON body or as an
// SSE stream (chunks per choice as text becomes safe, a usage chunk with include_usage, then [DONE]).
// A client that goes away cancels every engine request of the call.
//
// Thread-safety: the sinks run on the scheduler threads and only post to the exchange's strand; everything
// else (state, decoders, writes) runs on that strand. The engine holds the sinks, the sinks hold the call,
// the call holds the exchange: the connection lives until the engine has finished with the request.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "coordinator/http/exchange.h"
#include "coordinator/openai/response_json.h"
#include "coordinator/openai/service_context.h"
#include "coordinator/serving/request.h"
#include "coordinator/tokenizer/incremental_decoder.h"

namespace mixserve {

class GenerationCall : public std::enable_shared_from_this<GenerationCall> {
 public:
  // `params` as parsed; `prompts` tokenized and checked against the context, each with its max_tokens.
  GenerationCall(ServiceContext& context, std::shared_ptr<Exchange> exchange, ResponseMeta meta,
                 GenerationParams params, std::vector<std::vector<int32_t>> prompts, std::vector<int64_t> max_tokens);
  ~GenerationCall();

  // Submits every prompt. On a refusal (queue full, no replica) cancels what was submitted and answers with
  // the error. Runs on the exchange's strand.
  void start();

 private:
  class Sink;
  struct Choice {
    std::optional<IncrementalDecoder> decoder;
    std::string text;                   // decoded and safe, not yet sent (streaming) or the whole text
    std::vector<TokenLogprob> logprobs; // of tokens not yet sent (streaming) or all tokens
    size_t text_offset = 0;             // completions logprobs: text already sent before `logprobs`
    int64_t n_generated = 0;
    bool stop_matched = false;
    bool finished = false;
  };

  void on_tokens(int prompt, int choice, std::vector<TokenOutput> tokens);
  void on_finished(int prompt, int choice, FinishReason reason, Status status);
  void on_client_gone();
  TokenLogprob logprob_of(const TokenOutput& token) const;
  void send_chunk(int index, std::optional<std::string> finish_reason);
  void complete();
  void fail(const ApiError& error);
  std::string engine_id(int prompt) const;
  bool is_hidden_eos(int32_t token) const;

  ServiceContext& context_;
  InFlightGuard in_flight_;
  std::shared_ptr<Exchange> exchange_;
  boost::asio::any_io_executor executor_;  // the exchange's strand, copied once for the sinks
  ResponseMeta meta_;
  GenerationParams params_;
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<int64_t> max_tokens_;
  std::string base_id_;
  std::vector<Choice> choices_;  // prompt p, choice c at p * n + c
  std::vector<std::optional<std::string>> finish_reasons_;
  int n_finished_ = 0;
  int n_submitted_ = 0;  // prompts accepted by the engine
  std::optional<Status> error_;
  bool done_ = false;     // answered (or the client is gone): late callbacks are ignored
};

}  // namespace mixserve
