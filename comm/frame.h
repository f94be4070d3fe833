#pragma once
// Framing on the coordinator <-> worker TCP channels: each frame is a 4-byte big-endian payload length followed
// by one serialized proto::Envelope. The length is checked against a limit before any payload is read, so a
// corrupt or hostile header cannot make the reader allocate gigabytes.
#include <array>
#include <cstdint>
#include <string>

#include "comm/proto/mixserve.pb.h"
#include "core/status.h"

namespace mixserve {

constexpr size_t kFrameHeaderBytes = 4;
// Large enough for a StepResult carrying full logits of a long prefill chunk (return_logits is for tests and
// perplexity runs); far below protobuf's own 2 GiB limit.
constexpr uint32_t kDefaultMaxFrameBytes = 256u << 20;

// Header and payload in one string, so one write puts the whole frame on the socket.
std::string encode_frame(const proto::Envelope& message);
std::array<uint8_t, kFrameHeaderBytes> encode_frame_header(uint32_t payload_bytes);
uint32_t decode_frame_header(const std::array<uint8_t, kFrameHeaderBytes>& header);

// invalid_argument naming the peer when `payload_bytes` exceeds `max_bytes`.
Status check_frame_size(uint32_t payload_bytes, uint32_t max_bytes, const std::string& peer_name);
// invalid_argument when the bytes are not an Envelope with a body.
Result<proto::Envelope> parse_envelope(const std::string& payload, const std::string& peer_name);

// "step_plan", "heartbeat", ...: for logs and protocol errors.
const char* envelope_kind(const proto::Envelope& message);

}  // namespace mixserve
