#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/check.h"

namespace mixserve {
namespace {

// The reference implementation refuses headers over 100 MB; a larger length is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

Status file_error(const std::string& path, const std::string& message) {
  return invalid_argument(path + ": " + message);
}

Status tensor_error(const std::string& path, const std::string& tensor, const std::string& message) {
  return invalid_argument(path + ": tensor \"" + tensor + "\": " + message);
}

Status os_error(const std::string& path, const char* what) {
  const int err = errno;
  std::string message = path + ": " + what + ": " + std::strerror(err);
  return err == ENOENT ? not_found(message) : io_error(message);
}

// Element count of a shape, or nullopt-like false when the product overflows 64 bits.
bool checked_numel(const std::vector<int64_t>& shape, uint64_t* numel) {
  uint64_t n = 1;
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(dim), &n)) return false;
  }
  *numel = n;
  return true;
}

// Parses one tensor entry of the header; `data_size` bounds its offsets.
Result<TensorInfo> parse_tensor_entry(const std::string& path, const std::string& name,
                                      const nlohmann::json& entry, uint64_t data_size) {
  if (!entry.is_object()) return tensor_error(path, name, "header entry is not an object");
  TensorInfo info;
  info.name = name;

  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) return tensor_error(path, name, "missing string \"dtype\"");
  Result<DType> dtype = dtype_from_safetensors(dtype_it->get<std::string>());
  if (!dtype.ok()) return Status(dtype.status().code(), path + ": tensor \"" + name + "\": " + dtype.status().message());
  info.dtype = *dtype;

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) return tensor_error(path, name, "missing array \"shape\"");
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      return tensor_error(path, name, "shape " + shape_it->dump() + " holds a value that is not an integer >= 0");
    }
    info.shape.push_back(dim.get<int64_t>());
  }

  const auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return tensor_error(path, name, "\"data_offsets\" must be two integers >= 0");
  }
  info.data_begin = (*offsets_it)[0].get<uint64_t>();
  info.data_end = (*offsets_it)[1].get<uint64_t>();
  if (info.data_begin > info.data_end) {
    return tensor_error(path, name, "data_offsets " + offsets_it->dump() + " end before they begin");
  }

  uint64_t numel = 0;
  const uint64_t bits = static_cast<uint64_t>(dtype_bits(info.dtype));
  uint64_t expected_bits = 0;
  if (!checked_numel(info.shape, &numel) || __builtin_mul_overflow(numel, bits, &expected_bits)) {
    return tensor_error(path, name, "shape " + shape_to_string(info.shape) + " is too large");
  }
  const uint64_t expected = expected_bits / 8;
  if (info.data_end - info.data_begin != expected) {
    return tensor_error(path, name,
                        "data_offsets " + offsets_it->dump() + " span " +
                            std::to_string(info.data_end - info.data_begin) + " bytes, but shape " +
                            shape_to_string(info.shape) + " of " + dtype_to_safetensors(info.dtype) + " needs " +
                            std::to_string(expected));
  }
  if (info.data_end > data_size) {
    return tensor_error(path, name,
                        "data_offsets " + offsets_it->dump() + " run past the data section (" +
                            std::to_string(data_size) + " bytes; is the file truncated?)");
  }
  return info;
}

Status parse_metadata(const std::string& path, const nlohmann::json& value,
                      std::map<std::string, std::string>* metadata) {
  if (!value.is_object()) return file_error(path, "\"__metadata__\" is not an object");
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) return file_error(path, "\"__metadata__\" value of \"" + key + "\" is not a string");
    (*metadata)[key] = item.get<std::string>();
  }
  return Status::ok_status();
}

// The non-throwing form: an unreadable directory reads as "absent" and the open that follows reports why.
bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(path, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status status = os_error(path, "cannot stat");
    ::close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return file_error(path, "not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return file_error(path, "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    Status status = os_error(path, "cannot mmap");
    ::close(fd);
    return status;
  }
  ::close(fd);  // the mapping keeps the file alive

  SafetensorsFile file;  // owns the mapping from here on, so every early return unmaps it
  file.path_ = path;
  file.map_ = static_cast<const uint8_t*>(map);
  file.map_size_ = size;

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file.map_[i];
  if (header_size > size - 8 || header_size > kMaxHeaderBytes) {
    return file_error(path, "header length " + std::to_string(header_size) + " exceeds the file (" +
                                std::to_string(size) + " bytes) or the 100 MB limit");
  }
  const char* header_begin = reinterpret_cast<const char*>(file.map_ + 8);
  const nlohmann::json header =
      nlohmann::json::parse(header_begin, header_begin + header_size, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return file_error(path, "header is not valid JSON");
  if (!header.is_object()) return file_error(path, "header is not a JSON object");

  file.data_ = file.map_ + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      MIXSERVE_RETURN_IF_ERROR(parse_metadata(path, entry, &file.metadata_));
      continue;
    }
    MIXSERVE_ASSIGN_OR_RETURN(TensorInfo info, parse_tensor_entry(path, name, entry, data_size));
    file.tensors_.push_back(std::move(info));
  }

  // Overlap check: in offset order, each tensor must start at or after the end of the one before. Empty
  // tensors hold no bytes and so cannot overlap anything; they are left out.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& info : file.tensors_) {
    if (info.data_end > info.data_begin) by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->data_begin != b->data_begin ? a->data_begin < b->data_begin : a->data_end < b->data_end;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& prev = *by_offset[i - 1];
    const TensorInfo& cur = *by_offset[i];
    if (cur.data_begin < prev.data_end) {
      return tensor_error(path, cur.name, "bytes [" + std::to_string(cur.data_begin) + ", " +
                                              std::to_string(cur.data_end) + ") overlap tensor \"" + prev.name +
                                              "\" [" + std::to_string(prev.data_begin) + ", " +
                                              std::to_string(prev.data_end) + ")");
    }
  }
  // JSON objects iterate in key order, so tensors_ is sorted by name and find() can bisect.
  MIXSERVE_CHECK(std::is_sorted(file.tensors_.begin(), file.tensors_.end(),
                                [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; }));
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this == &other) return *this;
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
  path_ = std::move(other.path_);
  map_ = std::exchange(other.map_, nullptr);
  map_size_ = std::exchange(other.map_size_, 0);
  data_ = std::exchange(other.data_, nullptr);
  tensors_ = std::move(other.tensors_);
  metadata_ = std::move(other.metadata_);
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& info, const std::string& key) { return info.name < key; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::span<const uint8_t> SafetensorsFile::bytes(const TensorInfo& info) const {
  MIXSERVE_CHECK_LE(info.data_end, map_size_ - static_cast<size_t>(data_ - map_));
  return {data_ + info.data_begin, static_cast<size_t>(info.data_end - info.data_begin)};
}

// ---- Checkpoint ----

Result<Checkpoint> Checkpoint::open(const std::string& model_dir) {
  Checkpoint checkpoint;
  checkpoint.dir_ = model_dir;
  const std::string single_path = model_dir + "/model.safetensors";
  const std::string index_path = model_dir + "/model.safetensors.index.json";

  // Like HF transformers, a single-file checkpoint wins over an index.
  if (file_exists(single_path)) {
    MIXSERVE_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::open(single_path));
    for (const TensorInfo& info : file.tensors()) checkpoint.index_[info.name] = 0;
    checkpoint.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
    return checkpoint;
  }
  if (!file_exists(index_path)) {
    return not_found(model_dir + ": neither model.safetensors nor model.safetensors.index.json exists");
  }

  std::ifstream in(index_path, std::ios::binary);
  if (!in) return io_error(index_path + ": cannot read");
  const nlohmann::json index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object()) return invalid_argument(index_path + ": not a JSON object");
  const auto weight_map = index.find("weight_map");
  if (weight_map == index.end() || !weight_map->is_object()) {
    return invalid_argument(index_path + ": missing object \"weight_map\"");
  }

  std::map<std::string, size_t> shard_position;  // shard file name -> position in files_
  for (const auto& [tensor, shard_value] : weight_map->items()) {
    if (!shard_value.is_string()) {
      return invalid_argument(index_path + ": weight_map entry of tensor \"" + tensor + "\" is not a string");
    }
    const std::string shard = shard_value.get<std::string>();
    auto it = shard_position.find(shard);
    if (it == shard_position.end()) {
      const std::string shard_path = model_dir + "/" + shard;
      if (!file_exists(shard_path)) {
        return not_found(index_path + ": shard \"" + shard + "\" (holding tensor \"" + tensor + "\") is missing: " +
                         shard_path);
      }
      MIXSERVE_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::open(shard_path));
      it = shard_position.emplace(shard, checkpoint.files_.size()).first;
      checkpoint.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
    }
    if (checkpoint.files_[it->second]->find(tensor) == nullptr) {
      return invalid_argument(index_path + ": maps tensor \"" + tensor + "\" to shard " +
                              checkpoint.files_[it->second]->path() + ", which does not hold it");
    }
    checkpoint.index_[tensor] = it->second;
  }
  return checkpoint;
}

Result<TensorRef> Checkpoint::tensor(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return not_found("tensor \"" + name + "\" not found in checkpoint " + dir_);
  const SafetensorsFile& file = *files_[it->second];
  const TensorInfo* info = file.find(name);
  MIXSERVE_CHECK(info != nullptr);  // open() verified every indexed tensor
  return TensorRef{.info = info, .bytes = file.bytes(*info), .file = &file.path(), .metadata = &file.metadata()};
}

Result<TensorRef> Checkpoint::tensor_with_shape(const std::string& name, const std::vector<int64_t>& shape) const {
  MIXSERVE_ASSIGN_OR_RETURN(TensorRef ref, tensor(name));
  if (ref.info->shape != shape) {
    return invalid_argument(*ref.file + ": tensor \"" + name + "\" has shape " + shape_to_string(ref.info->shape) +
                            ", expected " + shape_to_string(shape));
  }
  return ref;
}

bool Checkpoint::contains(const std::string& name) const { return index_.count(name) != 0; }

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& [name, position] : index_) names.push_back(name);
  return names;
}

// ---- SafetensorsWriter ----

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> bytes) {
  MIXSERVE_CHECK(name != "__metadata__");
  for (const Entry& entry : entries_) MIXSERVE_CHECK(entry.name != name);
  uint64_t numel = 1;
  MIXSERVE_CHECK(checked_numel(shape, &numel));
  for (int64_t dim : shape) MIXSERVE_CHECK_GE(dim, 0);
  MIXSERVE_CHECK_EQ(bytes.size(), dtype_bytes(dtype, numel));
  dtype_to_safetensors(dtype);  // checks that the file format can name the dtype (u4 it cannot)
  entries_.push_back(Entry{name, dtype, std::move(shape), std::move(bytes)});
}

size_t SafetensorsWriter::data_bytes() const {
  size_t total = 0;
  for (const Entry& entry : entries_) total += entry.bytes.size();
  return total;
}

Status SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry& entry : entries_) {
    header[entry.name] = {{"dtype", dtype_to_safetensors(entry.dtype)},
                          {"shape", entry.shape},
                          {"data_offsets", {offset, offset + entry.bytes.size()}}};
    offset += entry.bytes.size();
  }
  std::string header_text = header.dump();
  // Padding with spaces to a multiple of 8 keeps the data section aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header_text.size()) >> (8 * i));

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error(path + ": cannot open for writing: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(length), sizeof(length));
  out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
  for (const Entry& entry : entries_) {
    out.write(reinterpret_cast<const char*>(entry.bytes.data()), static_cast<std::streamsize>(entry.bytes.size()));
  }
  out.close();
  if (!out) return io_error(path + ": write failed");
  return Status::ok_status();
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

}  // namespace mixserve
