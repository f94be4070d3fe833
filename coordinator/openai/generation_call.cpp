#include "coordinator/openai/generation_call.h"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "core/log.h"

namespace mixserve {

namespace net = boost::asio;

// Runs on a scheduler thread: hands the data to the call's strand and returns at once (request.h).
class GenerationCall::Sink final : public RequestSink {
 public:
  Sink(std::shared_ptr<GenerationCall> call, int prompt) : call_(std::move(call)), prompt_(prompt) {}
  void on_tokens(int choice, std::vector<TokenOutput> tokens) override {
    net::post(call_->executor_, [call = call_, p = prompt_, choice, tokens = std::move(tokens)]() mutable {
      call->on_tokens(p, choice, std::move(tokens));
    });
  }
  void on_finished(int choice, FinishReason reason, Status status) override {
    net::post(call_->executor_, [call = call_, p = prompt_, choice, reason, status = std::move(status)]() mutable {
      call->on_finished(p, choice, reason, std::move(status));
    });
  }

 private:
  std::shared_ptr<GenerationCall> call_;
  int prompt_;
};

GenerationCall::GenerationCall(ServiceContext& context, std::shared_ptr<Exchange> exchange, ResponseMeta meta,
                               GenerationParams params, std::vector<std::vector<int32_t>> prompts,
                               std::vector<int64_t> max_tokens)
    : context_(context),
      in_flight_(context),
      exchange_(std::move(exchange)),
      executor_(exchange_->executor()),
      meta_(std::move(meta)),
      params_(std::move(params)),
      prompts_(std::move(prompts)),
      max_tokens_(std::move(max_tokens)),
      base_id_(context.new_request_id()) {
  choices_.resize(prompts_.size() * params_.n);
  finish_reasons_.resize(choices_.size());
  for (size_t i = 0; i < choices_.size(); ++i)
    choices_[i].decoder.emplace(context_.tokenizer, params_.skip_special_tokens, params_.stop,
                                prompts_[i / params_.n]);
}

GenerationCall::~GenerationCall() = default;

std::string GenerationCall::engine_id(int prompt) const {
  return prompts_.size() == 1 ? base_id_ : base_id_ + "." + std::to_string(prompt);
}

bool GenerationCall::is_hidden_eos(int32_t token) const {
  // An end-of-sequence token ends the text; it is counted but never shown (vLLM does the same).
  if (params_.ignore_eos) return false;
  const auto& eos = context_.config.eos_ids;
  return std::find(eos.begin(), eos.end(), token) != eos.end();
}

void GenerationCall::start() {
  exchange_->on_client_gone([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->on_client_gone();
  });
  for (size_t p = 0; p < prompts_.size(); ++p) {
    GenerationRequest request{.request_id = engine_id(static_cast<int>(p)),
                              .prompt = prompts_[p],
                              .n = params_.n,
                              .max_tokens = max_tokens_[p],
                              .sampling = params_.sampling,
                              .eos_ids = params_.ignore_eos ? std::vector<int32_t>{} : context_.config.eos_ids};
    Status status = context_.engine.submit(std::move(request), std::make_shared<Sink>(shared_from_this(), p));
    if (!status.ok()) {
      for (int q = 0; q < n_submitted_; ++q) context_.engine.cancel(engine_id(q));
      LOG_INFO("openai", meta_.id << ": refused: " << status.to_string());
      return fail(api_error_from_status(status));
    }
    ++n_submitted_;
  }
  // Results can only run after this returns (they are posted to this strand), so the stream opens first.
  if (params_.stream) {
    exchange_->start_event_stream();
    if (meta_.kind == ApiKind::chat) {
      for (size_t i = 0; i < choices_.size(); ++i) {
        exchange_->send_event(chunk_body(meta_, {.index = static_cast<int>(i), .role = true}, params_.include_usage));
      }
    }
  }
}

TokenLogprob GenerationCall::logprob_of(const TokenOutput& token) const {
  auto text_of = [this](int32_t id) {
    auto text = context_.tokenizer.decode({id}, /*skip_special_tokens=*/false);
    return text.ok() ? *text : context_.tokenizer.token_text(id);
  };
  TokenLogprob out{.token = text_of(token.token), .logprob = token.logprob};
  for (const auto& [id, lp] : token.top_logprobs) out.top.emplace_back(text_of(id), lp);
  return out;
}

void GenerationCall::on_tokens(int prompt, int choice, std::vector<TokenOutput> tokens) {
  if (done_) return;
  const int index = prompt * params_.n + choice;
  Choice& c = choices_.at(index);
  if (c.finished || c.stop_matched) return;  // tokens already in flight when the choice was cancelled
  for (const auto& token : tokens) {
    ++c.n_generated;
    if (params_.logprobs) c.logprobs.push_back(logprob_of(token));
    if (is_hidden_eos(token.token)) continue;
    auto piece = c.decoder->push(token.token);
    if (!piece.ok()) {
      LOG_ERROR("openai", meta_.id << ": cannot detokenize: " << piece.status().to_string());
      error_ = internal_error("detokenization failed: " + piece.status().message());
      c.stop_matched = true;
      context_.engine.cancel_choice(engine_id(prompt), choice);
      break;
    }
    c.text += *piece;
    if (c.decoder->stopped()) {
      c.stop_matched = true;
      context_.engine.cancel_choice(engine_id(prompt), choice);
      break;
    }
  }
  if (params_.stream && !c.text.empty()) send_chunk(index, std::nullopt);
}

void GenerationCall::on_finished(int prompt, int choice, FinishReason reason, Status status) {
  if (done_) return;
  const int index = prompt * params_.n + choice;
  Choice& c = choices_.at(index);
  if (c.finished) return;
  c.finished = true;
  ++n_finished_;
  std::string finish = finish_reason_name(reason);
  if (c.stop_matched) {
    finish = "stop";
  } else if (reason == FinishReason::cancelled) {
    finish = "abort";
  } else if (reason == FinishReason::error) {
    if (!error_) error_ = status.ok() ? internal_error("generation failed") : status;
  }
  finish_reasons_[index] = finish;
  if (!c.stop_matched && reason != FinishReason::error) c.text += c.decoder->flush();
  if (params_.stream && reason != FinishReason::error) send_chunk(index, finish);
  if (n_finished_ == static_cast<int>(choices_.size())) complete();
}

void GenerationCall::send_chunk(int index, std::optional<std::string> finish_reason) {
  Choice& c = choices_[index];
  ChoiceDelta delta{.index = index,
                    .text = std::move(c.text),
                    .with_logprobs = params_.logprobs,
                    .logprobs = std::move(c.logprobs),
                    .text_offset = c.text_offset,
                    .finish_reason = std::move(finish_reason)};
  c.text.clear();
  c.logprobs.clear();
  for (const auto& t : delta.logprobs) c.text_offset += t.token.size();
  exchange_->send_event(chunk_body(meta_, delta, params_.include_usage));
}

void GenerationCall::complete() {
  Usage usage;
  for (const auto& p : prompts_) usage.prompt_tokens += static_cast<int64_t>(p.size());
  for (const auto& c : choices_) usage.completion_tokens += c.n_generated;
  if (error_ && !params_.stream) return fail(api_error_from_status(*error_));
  done_ = true;
  if (params_.stream) {
    if (error_) {
      const ApiError error = api_error_from_status(*error_);
      context_.count_error(error.http_status);
      exchange_->send_event(error_json(error));
    }
    if (params_.include_usage) exchange_->send_event(usage_chunk_body(meta_, usage));
    exchange_->send_event("[DONE]");
    exchange_->end_event_stream();
    return;
  }
  std::vector<ChoiceDelta> out;
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    out.push_back({.index = static_cast<int>(i),
                   .text = std::move(c.text),
                   .with_logprobs = params_.logprobs,
                   .logprobs = std::move(c.logprobs),
                   .finish_reason = finish_reasons_[i]});
  }
  exchange_->respond({.status = 200, .body = full_response_body(meta_, out, usage)});
}

void GenerationCall::on_client_gone() {
  if (done_) return;
  done_ = true;
  LOG_INFO("openai", meta_.id << ": client gone; cancelling");
  for (int p = 0; p < n_submitted_; ++p) context_.engine.cancel(engine_id(p));
}

void GenerationCall::fail(const ApiError& error) {
  done_ = true;
  context_.count_error(error.http_status);
  exchange_->respond(error_response(error));
}

}  // namespace mixserve
