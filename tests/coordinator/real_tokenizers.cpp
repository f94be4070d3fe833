#include "real_tokenizers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

namespace mixserve::test {

const Tokenizer* real_tokenizer(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = loaded.find(name); it != loaded.end()) return it->second.get();
  const std::string dir = std::string(MIXSERVE_SOURCE_DIR) + "/third_party/tokenizers/" + name;
  if (!std::filesystem::exists(dir + "/tokenizer.json")) {
    ADD_FAILURE() << dir << "/tokenizer.json is missing: run deploy/fetch-tokenizers.sh";
    return nullptr;
  }
  auto tokenizer = Tokenizer::load(dir);
  if (!tokenizer.ok()) {
    ADD_FAILURE() << dir << ": " << tokenizer.status().to_string();
    return nullptr;
  }
  return (loaded[name] = std::move(*tokenizer)).get();
}

}  // namespace mixserve::test
