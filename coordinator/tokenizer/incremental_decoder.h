#pragma once
// Streaming detokenization: feed ids one at a time, get the new text that is safe to show. Never emits a
// broken UTF-8 sequence (holds back bytes of an incomplete character, e.g. byte-fallback tokens <0xE2>,
// <0x82>, <0xAC>); the concatenation of everything emitted plus flush() equals decode(all ids).
// Stop strings: text that might be the beginning of a stop string is held back until it is known not to be;
// when a stop string appears, `stopped` becomes true and nothing from the stop string on is emitted.
// Thread-safety: one per sequence, used by one thread.
#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/tokenizer/tokenizer.h"

namespace mixserve {

class IncrementalDecoder {
 public:
  // `context`: the prompt's ids. Its last few tokens seed the decoding window, so the first generated token
  // reads as it does after the prompt (a SentencePiece "▁to" after a prompt is " to", not the "to" that
  // Strip makes of a text's first token), as HF's decode of prompt + output and vLLM show it. Emitted text
  // then equals decode(context tail + ids) minus decode(context tail).
  IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens, std::vector<std::string> stop_strings = {},
                     const std::vector<int32_t>& context = {});

  // The text newly safe to emit after `id` (possibly empty).
  Result<std::string> push(int32_t id);
  // Whatever is held back at the end of generation (a trailing incomplete character becomes U+FFFD).
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& matched_stop() const { return matched_stop_; }

 private:
  // Appends newly decoded text to pending_ and returns the part that cannot be (the start of) a stop string.
  std::string release(std::string delta);

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<std::string> stops_;
  std::vector<int32_t> ids_;
  size_t prefix_offset_ = 0;  // ids before this are fully emitted and no longer influence decoding
  size_t read_offset_ = 0;
  std::string pending_;       // decoded text not yet emitted (possible stop-string prefix)
  bool stopped_ = false;
  std::string matched_stop_;
  bool last_is_byte_token_ = false;  // the last non-skipped id is a byte-fallback token <0xXX>
};

}  // namespace mixserve
