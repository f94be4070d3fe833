#include "tools/synth/safetensors_stream.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace mixserve::tools {

namespace {

std::string partial_path(const std::string& path) { return path + ".partial"; }

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Result<SafetensorsStreamWriter> SafetensorsStreamWriter::create(const std::string& path,
                                                                const std::vector<Entry>& entries,
                                                                const std::map<std::string, std::string>& metadata) {
  static_assert(std::endian::native == std::endian::little, "safetensors is little-endian; so must the host be");
  // ordered_json keeps the tensors in data order, which makes the header easy to read next to the bytes.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& e : entries) {
    int64_t numel = 1;
    for (const int64_t d : e.shape) numel *= d;
    const uint64_t n_bytes = dtype_bytes(e.dtype, static_cast<size_t>(numel));
    header[e.name] = {{"dtype", dtype_to_safetensors(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + n_bytes}}};
    offset += n_bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  SafetensorsStreamWriter writer;
  writer.path_ = path;
  writer.data_bytes_expected_ = offset;
  writer.file_.reset(std::fopen(partial_path(path).c_str(), "wb"));
  if (!writer.file_) return io_error(partial_path(path) + ": cannot create: " + errno_text());
  uint8_t length[8];
  const uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
  if (std::fwrite(length, 1, 8, writer.file_.get()) != 8 ||
      std::fwrite(header_text.data(), 1, header_text.size(), writer.file_.get()) != header_text.size()) {
    return io_error(partial_path(path) + ": write failed: " + errno_text());
  }
  return writer;
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  if (!file_) return;
  file_.reset();
  std::error_code ignored;
  std::filesystem::remove(partial_path(path_), ignored);
}

Status SafetensorsStreamWriter::append(std::span<const uint8_t> bytes) {
  if (!file_) return internal_error(path_ + ": append after finish");
  if (data_bytes_written_ + bytes.size() > data_bytes_expected_) {
    return internal_error(path_ + ": more data than the header announces (" + std::to_string(data_bytes_expected_) +
                          " bytes)");
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
    return io_error(partial_path(path_) + ": write failed: " + errno_text());
  }
  data_bytes_written_ += bytes.size();
  return {};
}

Status SafetensorsStreamWriter::finish() {
  if (!file_) return internal_error(path_ + ": finish called twice");
  if (data_bytes_written_ != data_bytes_expected_) {
    return internal_error(path_ + ": " + std::to_string(data_bytes_written_) + " data bytes written, header announces " +
                          std::to_string(data_bytes_expected_));
  }
  // fclose flushes; its failure (a full disk) is the last chance to notice a short file.
  if (std::fclose(file_.release()) != 0) {
    const Status status = io_error(partial_path(path_) + ": close failed: " + errno_text());
    std::error_code ignored;
    std::filesystem::remove(partial_path(path_), ignored);
    return status;
  }
  std::error_code ec;
  std::filesystem::rename(partial_path(path_), path_, ec);
  if (ec) return io_error(path_ + ": rename from .partial failed: " + ec.message());
  return {};
}

}  // namespace mixserve::tools
