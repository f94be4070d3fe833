#pragma once
// Synthetic checkpoints for worker tests, written once per test process and shared (read-only) by tests.
#include <string>

namespace mixserve::test {

// Directory of `mixserve synth --preset <preset> --seed <seed>`, created on first use.
const std::string& synth_model_dir(const std::string& preset, uint64_t seed);

}  // namespace mixserve::test
