#pragma once
// Writes one .safetensors file whose tensors are known up front but whose bytes arrive piece by piece, so a
// multi-GB shard never sits in memory (core's SafetensorsWriter keeps every tensor until write()).
//
// The file is written as PATH.partial and renamed to PATH by finish(), so an interrupted run never leaves a
// file that looks complete. Layout as the reference implementation writes it: the header JSON is padded with
// spaces to a multiple of 8 bytes, tensors follow back to back in the order given.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace mixserve::tools {

class SafetensorsStreamWriter {
 public:
  struct Entry {
    std::string name;
    DType dtype = DType::bf16;
    std::vector<int64_t> shape;
  };

  // Creates PATH.partial and writes the header.
  static Result<SafetensorsStreamWriter> create(const std::string& path, const std::vector<Entry>& entries,
                                                const std::map<std::string, std::string>& metadata);
  SafetensorsStreamWriter(SafetensorsStreamWriter&&) noexcept = default;
  SafetensorsStreamWriter& operator=(SafetensorsStreamWriter&&) noexcept = default;
  ~SafetensorsStreamWriter();  // removes PATH.partial unless finish() succeeded

  // Appends the next bytes of the data section; more than the header announced is an error.
  Status append(std::span<const uint8_t> bytes);
  // Checks that every announced byte arrived, closes the file and renames it into place.
  Status finish();

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  SafetensorsStreamWriter() = default;
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  uint64_t data_bytes_expected_ = 0;
  uint64_t data_bytes_written_ = 0;
};

}  // namespace mixserve::tools
