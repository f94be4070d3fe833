#include "synth_model.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>

#include "test_support.h"
#include "tools/synth/synth.h"

namespace mixserve::test {

const std::string& synth_model_dir(const std::string& preset, uint64_t seed) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<TempDir>> dirs;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string key = preset + "/" + std::to_string(seed);
  auto& dir = dirs[key];
  if (!dir) {
    dir = std::make_unique<TempDir>();
    const Status s = tools::synth_checkpoint({.out_dir = dir->path(), .preset = preset, .seed = seed});
    if (!s.ok()) ADD_FAILURE() << "synth " << key << ": " << s.to_string();
  }
  return dir->path();
}

}  // namespace mixserve::test
