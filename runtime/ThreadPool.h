// A small persistent thread pool: parallelFor splits [0, count) into one
// contiguous chunk per worker, runs them, and returns when all are done.
// The calling thread is worker 0. Called once per kernel per token, so it
// allocates nothing per call and wakes workers by spinning briefly on a
// generation counter before sleeping.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::runtime {

class ThreadPool {
public:
  using Task = std::function<void(int64_t begin, int64_t end, unsigned worker)>;

  // 0 threads: one per hardware thread.
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return size_; }

  // Runs fn on contiguous chunks of [0, count); worker w always gets the
  // same chunk for the same count and pool size.
  void parallelFor(int64_t count, const Task &fn);

private:
  void workerLoop(unsigned worker);
  void runChunk(unsigned worker);

  unsigned size_;
  std::vector<std::thread> threads_;
  const Task *task_ = nullptr;
  int64_t count_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<unsigned> pending_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

} // namespace kiln::runtime
