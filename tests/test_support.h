#pragma once
// Helpers shared by the tests: fresh random data (a new seed each run unless MIXSERVE_TEST_SEED is set, and
// printed on failure through SCOPED_TRACE), temporary directories, error norms.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mixserve::test {

// The seed of this test run: MIXSERVE_TEST_SEED or a random one, chosen once per process.
uint64_t run_seed();
// A generator seeded from run_seed() and a per-call salt so each call gets different data.
std::mt19937_64 make_rng(uint64_t salt);
std::vector<float> random_normal(size_t n, std::mt19937_64& rng, float stddev = 1.0f);
std::vector<float> random_uniform(size_t n, std::mt19937_64& rng, float lo, float hi);

// ||a - b||_F / ||b||_F.
double relative_frobenius_error(const std::vector<float>& a, const std::vector<float>& b);
double relative_frobenius_error(const float* a, const double* b, size_t n);
// y[m][n] = sum_k x[m][k] * w[n][k] in fp64 (the independent reference product of the GEMM tests).
std::vector<double> fp64_matmul(const std::vector<float>& x, const std::vector<float>& w, int64_t m, int64_t n,
                                int64_t k);

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& contents);
std::string read_file(const std::string& path);

// Runs a shell command, returning its exit status and, through `output`, stdout and stderr together.
int run_command(const std::string& command, std::string* output);

}  // namespace mixserve::test
