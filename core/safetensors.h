#pragma once
// Safetensors reading (mmap, fully validated) and writing.
//
// Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [b, e]},
// "__metadata__": {str: str}}, then the data; offsets are relative to the data section. Validation on open:
// header length within the file, JSON well-formed, each dtype known, shape non-negative, e - b equal to
// shape's element count times the dtype size, every [b, e) inside the data section, and no two tensors
// overlapping. Every error names the file (and the tensor, where one is involved).
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace mixserve {

struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t data_begin = 0;  // relative to the data section
  uint64_t data_end = 0;
  int64_t numel() const;
};

// One .safetensors file, memory-mapped read-only. Movable, not copyable; the mapping lives as long as it does.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;  // nullptr when absent
  std::span<const uint8_t> bytes(const TensorInfo& info) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section inside the mapping
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor found in a checkpoint: its info, bytes (valid while the Checkpoint lives) and the file it came from.
struct TensorRef {
  const TensorInfo* info = nullptr;
  std::span<const uint8_t> bytes;
  const std::string* file = nullptr;
  const std::map<std::string, std::string>* metadata = nullptr;  // the file's __metadata__
};

// A HF checkpoint directory: `model.safetensors`, or shards listed by `model.safetensors.index.json`
// (weight_map: tensor name -> shard file; every listed shard must exist and hold the tensors mapped to it).
class Checkpoint {
 public:
  static Result<Checkpoint> open(const std::string& model_dir);
  const std::string& dir() const { return dir_; }
  // not_found naming the tensor and directory when absent.
  Result<TensorRef> tensor(const std::string& name) const;
  // Like tensor(), and also checks dtype-independent shape equality; the error names file, tensor, both shapes.
  Result<TensorRef> tensor_with_shape(const std::string& name, const std::vector<int64_t>& shape) const;
  bool contains(const std::string& name) const;
  std::vector<std::string> tensor_names() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> index_;  // tensor name -> position in files_
};

// Builds a safetensors file in memory and writes it (tensors are laid out in the order added, 8-byte aligned
// header as the reference implementation does).
class SafetensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  size_t data_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

std::string shape_to_string(const std::vector<int64_t>& shape);  // "[4096, 128]"

}  // namespace mixserve
