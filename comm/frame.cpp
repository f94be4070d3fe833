#include "comm/frame.h"

#include <limits>

namespace mixserve {

std::array<uint8_t, kFrameHeaderBytes> encode_frame_header(uint32_t payload_bytes) {
  return {static_cast<uint8_t>(payload_bytes >> 24), static_cast<uint8_t>(payload_bytes >> 16),
          static_cast<uint8_t>(payload_bytes >> 8), static_cast<uint8_t>(payload_bytes)};
}

uint32_t decode_frame_header(const std::array<uint8_t, kFrameHeaderBytes>& header) {
  return (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) | (uint32_t{header[2]} << 8) | header[3];
}

std::string encode_frame(const proto::Envelope& message) {
  const size_t n = message.ByteSizeLong();
  // A message this large is a bug in the sender (plans are token ids, results are tokens), not an input error.
  if (n > std::numeric_limits<uint32_t>::max()) std::abort();
  std::string frame(kFrameHeaderBytes + n, '\0');
  const auto header = encode_frame_header(static_cast<uint32_t>(n));
  std::copy(header.begin(), header.end(), frame.begin());
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(frame.data() + kFrameHeaderBytes));
  return frame;
}

Status check_frame_size(uint32_t payload_bytes, uint32_t max_bytes, const std::string& peer_name) {
  if (payload_bytes <= max_bytes) return {};
  return invalid_argument("frame of " + std::to_string(payload_bytes) + " bytes from " + peer_name +
                          " exceeds the limit of " + std::to_string(max_bytes) + " bytes");
}

Result<proto::Envelope> parse_envelope(const std::string& payload, const std::string& peer_name) {
  proto::Envelope message;
  if (!message.ParseFromString(payload))
    return invalid_argument("malformed frame of " + std::to_string(payload.size()) + " bytes from " + peer_name);
  if (message.body_case() == proto::Envelope::BODY_NOT_SET)
    return invalid_argument("frame from " + peer_name + " carries no known message");
  return message;
}

const char* envelope_kind(const proto::Envelope& message) {
  switch (message.body_case()) {
    case proto::Envelope::kHello:
      return "hello";
    case proto::Envelope::kReady:
      return "ready";
    case proto::Envelope::kStepPlan:
      return "step_plan";
    case proto::Envelope::kStepResult:
      return "step_result";
    case proto::Envelope::kRelease:
      return "release";
    case proto::Envelope::kShutdown:
      return "shutdown";
    case proto::Envelope::kHeartbeat:
      return "heartbeat";
    case proto::Envelope::BODY_NOT_SET:
      break;
  }
  return "empty";
}

}  // namespace mixserve
