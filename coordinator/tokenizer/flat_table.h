#pragma once
// Open-addressing hash tables for the tokenizer's hot lookups (vocabulary, merges, the per-call word cache).
// std::unordered_map chases a node per probe and divides by a prime per lookup, which showed at the top of
// encode profiles; these keep keys and values in flat arrays with power-of-two capacity and linear probing.
// Thread-safety: none; const lookups may run concurrently.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mixserve {

// string -> V. Keys are copied into one arena; inserting an existing key overwrites its value.
template <typename V>
class StringTable {
 public:
  const V* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t e = slots_[i];
      if (e == kEmpty) return nullptr;
      const Entry& entry = entries_[e];
      if (entry.hash == h && this->key(entry) == key) return &entry.value;
    }
  }
  V& insert(std::string_view key, V value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    const uint64_t h = hash(key);
    size_t i = h & mask_;
    for (; slots_[i] != kEmpty; i = (i + 1) & mask_) {
      Entry& entry = entries_[slots_[i]];
      if (entry.hash == h && this->key(entry) == key) return entry.value = std::move(value);
    }
    slots_[i] = static_cast<uint32_t>(entries_.size());
    entries_.push_back({h, arena_.size(), key.size(), std::move(value)});
    arena_.append(key);
    return entries_.back().value;
  }
  size_t size() const { return entries_.size(); }
  void reserve(size_t n) {
    while (slots_.size() < 2 * n) grow();
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Entry {
    uint64_t hash;
    size_t offset, length;
    V value;
  };
  static uint64_t hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  std::string_view key(const Entry& e) const { return std::string_view(arena_).substr(e.offset, e.length); }
  void grow() {
    const size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
    slots_.assign(capacity, kEmpty);
    mask_ = capacity - 1;
    for (uint32_t e = 0; e < entries_.size(); ++e) {
      size_t i = entries_[e].hash & mask_;
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = e;
    }
  }

  std::vector<uint32_t> slots_;  // index into entries_, kEmpty when free
  std::vector<Entry> entries_;
  std::string arena_;
  size_t mask_ = 0;
};

// uint64_t -> V, for merge pairs. UINT64_MAX marks a free slot and cannot be a key.
template <typename V>
class U64Table {
 public:
  const V* find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  void insert(uint64_t key, V value) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t i = hash(key) & mask_;
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
    if (keys_[i] == kEmpty) ++size_;
    keys_[i] = key;
    values_[i] = std::move(value);
  }
  // Calls fn(key, value) for every entry.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] != kEmpty) fn(keys_[i], values_[i]);
    }
  }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  static uint64_t hash(uint64_t k) {  // a murmur3 finalizer: ids are small and dense, so spread them
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
  }
  void grow() {
    const size_t capacity = keys_.empty() ? 64 : keys_.size() * 2;
    std::vector<uint64_t> keys(capacity, kEmpty);
    std::vector<V> values(capacity);
    mask_ = capacity - 1;
    for (size_t j = 0; j < keys_.size(); ++j) {
      if (keys_[j] == kEmpty) continue;
      size_t i = hash(keys_[j]) & mask_;
      while (keys[i] != kEmpty) i = (i + 1) & mask_;
      keys[i] = keys_[j];
      values[i] = std::move(values_[j]);
    }
    keys_ = std::move(keys);
    values_ = std::move(values);
  }

  std::vector<uint64_t> keys_;
  std::vector<V> values_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace mixserve
