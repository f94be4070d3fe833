#pragma once
// GPT-2's reversible map between bytes and printable characters: byte-level BPE vocabularies (Llama 3, Qwen2,
// GPT-2) are written in these characters, so every byte sequence has a spelling ('Ġ' stands for the space).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mixserve::byte_level {

// The UTF-8 of the character standing for `byte`.
std::string_view char_of_byte(uint8_t byte) noexcept;
// Appends the byte-level spelling of `bytes` to `out`.
void append_chars(std::string& out, std::string_view bytes);
// The bytes that the byte-level string `chars` spells; nullopt when it holds a character outside the map
// (valid UTF-8 input assumed).
std::optional<std::string> to_bytes(std::string_view chars);

}  // namespace mixserve::byte_level
