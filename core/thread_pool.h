#pragma once
// A fixed pool of worker threads for data-parallel loops in the CPU kernels.
// Thread-safety: parallel_for may be called from one thread at a time per pool (the executor's thread);
// the pool's threads only run the chunks they are handed.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mixserve {

class ThreadPool {
 public:
  // n_threads == 0: one per hardware thread. The calling thread takes part, so n_threads - 1 are spawned.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Runs fn(begin, end) over [0, n) split into contiguous chunks of at least min_chunk items; returns when all
  // chunks are done. Small loops run inline on the caller.
  void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

  // A process-wide pool sized from MIXSERVE_THREADS or the hardware.
  static ThreadPool& global();

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunk_ = 0;
  int64_t next_chunk_ = 0;
  int64_t n_chunks_ = 0;
  int64_t chunks_done_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace mixserve
