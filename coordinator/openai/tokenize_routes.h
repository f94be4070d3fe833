#pragma once
// POST /tokenize and POST /detokenize, with vLLM's shapes:
//   /tokenize   {"model"?, "prompt": str, "add_special_tokens"?: true}
//            or {"model"?, "messages": [...], "add_generation_prompt"?: true, "add_special_tokens"?: false,
//                "chat_template_kwargs"?: {}}
//            -> {"count", "max_model_len", "tokens": [ids]} (+ "token_strs" with "return_token_strs": true)
//   /detokenize {"model"?, "tokens": [ids], "skip_special_tokens"?: false} -> {"prompt": text}
// Runs on the connection's strand; answers at once.
#include "coordinator/http/http_message.h"
#include "coordinator/openai/service_context.h"

namespace mixserve {

HttpResponse handle_tokenize(ServiceContext& context, const HttpRequest& request);
HttpResponse handle_detokenize(ServiceContext& context, const HttpRequest& request);

}  // namespace mixserve
