#include "coordinator/tokenizer/incremental_decoder.h"

#include <algorithm>

#include "coordinator/tokenizer/unicode.h"

namespace mixserve {

// How text is made safe to emit (the window scheme of TGI/vLLM, with two more holds):
// - the text of ids[prefix_offset_, read_offset_) was emitted already; each step decodes that window and the
//   window extended to the newest id, and emits the difference. Decoding a window rather than every id keeps
//   a step O(1); starting it one emission back keeps start-of-text effects (Llama 2's Strip of the leading
//   space, Metaspace's first token) on text that was already emitted, so they cancel out.
// - the difference is held while the text ends in U+FFFD (a character not yet complete) or does not extend
//   the previous text;
// - it is also held while the last (non-skipped) token is a byte token <0xXX>: HF's ByteFallback turns a whole
//   run of byte tokens that is not valid UTF-8 into one U+FFFD per byte, so a later byte can change how the
//   earlier ones read.

namespace {

bool is_byte_token(const std::string& text) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return text.size() == 6 && text.starts_with("<0x") && text[5] == '>' && hex(text[3]) && hex(text[4]);
}

}  // namespace

// Prompt tokens that seed the window: enough for any start-of-text effect to land on them (vLLM uses 5).
constexpr size_t kContextTokens = 5;

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tokenizer, bool skip_special_tokens,
                                       std::vector<std::string> stop_strings, const std::vector<int32_t>& context)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens), stops_(std::move(stop_strings)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  const size_t n = std::min(context.size(), kContextTokens);
  std::vector<int32_t> tail(context.end() - static_cast<ptrdiff_t>(n), context.end());
  // A tail that does not decode, or ends inside a character (byte tokens), would hold every later emission
  // back: the window's text must be a clean prefix. Then start without context, as before.
  const auto text = tokenizer_.decode(tail, skip_special_);
  const bool ends_in_bytes = !tail.empty() && is_byte_token(tokenizer_.token_text(tail.back()));
  if (!text.ok() || text->ends_with(utf8::kReplacement) || ends_in_bytes) return;
  ids_ = std::move(tail);
  read_offset_ = ids_.size();
}

Result<std::string> IncrementalDecoder::push(int32_t id) {
  if (stopped_) return std::string();
  // Decoding the id alone rejects ids outside the vocabulary before they enter the window.
  MIXSERVE_RETURN_IF_ERROR(tokenizer_.decode({id}, skip_special_).status());
  ids_.push_back(id);
  if (!(skip_special_ && tokenizer_.is_special(id))) last_is_byte_token_ = is_byte_token(tokenizer_.token_text(id));
  if (last_is_byte_token_) return std::string();

  const std::vector<int32_t> window(ids_.begin() + static_cast<ptrdiff_t>(prefix_offset_), ids_.end());
  MIXSERVE_ASSIGN_OR_RETURN(
      const std::string prefix_text,
      tokenizer_.decode({window.begin(), window.begin() + static_cast<ptrdiff_t>(read_offset_ - prefix_offset_)},
                        skip_special_));
  MIXSERVE_ASSIGN_OR_RETURN(const std::string new_text, tokenizer_.decode(window, skip_special_));
  if (new_text.size() <= prefix_text.size() || !new_text.starts_with(prefix_text) ||
      new_text.ends_with(utf8::kReplacement)) {
    return std::string();
  }
  prefix_offset_ = read_offset_;
  read_offset_ = ids_.size();
  return release(new_text.substr(prefix_text.size()));
}

std::string IncrementalDecoder::flush() {
  if (stopped_) return std::string();
  const std::vector<int32_t> window(ids_.begin() + static_cast<ptrdiff_t>(prefix_offset_), ids_.end());
  const auto prefix_text = tokenizer_.decode(
      {window.begin(), window.begin() + static_cast<ptrdiff_t>(read_offset_ - prefix_offset_)}, skip_special_);
  const auto new_text = tokenizer_.decode(window, skip_special_);
  std::string delta;
  if (prefix_text.ok() && new_text.ok()) {  // ids were checked on push, so both decode
    // Text that was emitted cannot be taken back: emit what follows the longest common prefix.
    const auto mismatch = std::mismatch(prefix_text->begin(), prefix_text->end(), new_text->begin(), new_text->end());
    size_t common = static_cast<size_t>(mismatch.first - prefix_text->begin());
    while (common > 0 && common < new_text->size() && (static_cast<uint8_t>((*new_text)[common]) & 0xC0) == 0x80)
      --common;
    delta = new_text->substr(common);
  }
  if (read_offset_ < ids_.size()) {
    prefix_offset_ = read_offset_;
    read_offset_ = ids_.size();
  }
  last_is_byte_token_ = false;
  std::string out = release(std::move(delta));
  if (stopped_) return out;
  out += pending_;  // the end of generation: a possible stop-string prefix is final text now
  pending_.clear();
  return out;
}

std::string IncrementalDecoder::release(std::string delta) {
  pending_ += delta;
  if (stops_.empty()) return std::exchange(pending_, std::string());
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at < first) {
      first = at;
      matched_stop_ = stop;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold the longest tail that could still grow into a stop string; emit the rest.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t n = std::min(stop.size() - 1, pending_.size()); n > hold; --n) {
      if (pending_.ends_with(std::string_view(stop).substr(0, n))) {
        hold = n;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

}  // namespace mixserve
