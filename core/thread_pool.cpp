#include "core/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace mixserve {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : threads_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("MIXSERVE_THREADS");
    return env ? std::atoi(env) : 0;
  }());
  return pool;
}

void ThreadPool::parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(1, min_chunk);
  // A few chunks per thread balance uneven work without much scheduling cost.
  int64_t chunk = std::max(min_chunk, (n + 4 * n_threads_ - 1) / (4 * n_threads_));
  if (n_threads_ == 1 || chunk >= n) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  job_n_ = n;
  job_chunk_ = chunk;
  next_chunk_ = 0;
  n_chunks_ = (n + chunk - 1) / chunk;
  chunks_done_ = 0;
  ++generation_;
  lock.unlock();
  work_ready_.notify_all();
  worker_loop(0);
  lock.lock();
  work_done_.wait(lock, [this] { return chunks_done_ == n_chunks_; });
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen_generation = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (index != 0) {
      work_ready_.wait(lock, [&] { return stopping_ || (job_ && generation_ != seen_generation); });
      if (stopping_) return;
      seen_generation = generation_;
    }
    // Take chunks until none is left; the caller (index 0) returns to wait for the stragglers.
    while (job_ && next_chunk_ < n_chunks_) {
      const int64_t c = next_chunk_++;
      const auto* fn = job_;
      const int64_t begin = c * job_chunk_;
      const int64_t end = std::min(job_n_, begin + job_chunk_);
      lock.unlock();
      (*fn)(begin, end);
      lock.lock();
      if (++chunks_done_ == n_chunks_) work_done_.notify_all();
    }
    if (index == 0) return;
  }
}

}  // namespace mixserve
