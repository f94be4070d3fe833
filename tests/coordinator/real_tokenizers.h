#pragma once
// The real Llama 3 and Llama 2 tokenizers that deploy/fetch-tokenizers.sh puts under third_party/tokenizers/,
// loaded once per test process. Missing files fail the calling test with a message saying how to fetch them.
#include <string>

#include "coordinator/tokenizer/tokenizer.h"

namespace mixserve::test {

// "llama3" or "llama2"; nullptr (after a test failure) when the files are missing or do not load.
const Tokenizer* real_tokenizer(const std::string& name);

}  // namespace mixserve::test
