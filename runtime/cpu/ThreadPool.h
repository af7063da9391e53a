// A small persistent thread pool for the token loop.
//
// parallelFor(count, fn) splits [0, count) into one contiguous chunk per
// worker and returns when every chunk is done. The partition is static and
// deterministic: with c = count / size and r = count % size, worker w gets
// [w*c + min(w, r), that + c + (w < r)), so the first r workers get one task
// more, and the same count on the same pool size always gives worker w the
// same chunk. Workers whose chunk is empty are not called. The calling thread
// is worker 0 and runs its chunk itself.
//
// It is called once per kernel per token (thousands of times a second), so a
// call allocates nothing (pass an fn whose captures fit std::function's
// inline storage, e.g. one reference) and wakes workers without a system
// call when they are awake: idle workers spin on a generation counter for a
// short while, then sleep on it (std::atomic::wait, a futex on Linux), and
// the caller only issues a wake-up when some worker is asleep.
//
// One parallelFor at a time: the pool must not be entered from two threads at
// once, nor from inside a task. An exception thrown by a task is rethrown by
// parallelFor (the lowest worker's, once every chunk has finished).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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

  // Workers, the calling thread included.
  unsigned size() const { return size_; }

  // Runs fn on the chunks of [0, count) described above. count <= 0 returns
  // at once.
  void parallelFor(int64_t count, const Task &fn);

  // The chunk worker `worker` of `workers` gets for `count` tasks.
  struct Range {
    int64_t begin, end;
  };
  static Range chunk(int64_t count, unsigned workers, unsigned worker);

private:
  void workerLoop(unsigned worker);
  void runChunk(unsigned worker) noexcept;

  // Each hot atomic on its own cache line: workers poll generation_ while
  // finishing ones decrement pending_.
  struct alignas(64) Counter {
    std::atomic<uint32_t> value{0};
  };

  unsigned size_;
  std::vector<std::thread> threads_;
  // The current call, published by the release increment of generation_.
  const Task *task_ = nullptr;
  int64_t count_ = 0;
  bool stopping_ = false;
  Counter generation_;       // bumped once per call (and at shutdown)
  Counter pending_;          // workers (other than 0) not yet done
  Counter sleepingWorkers_;  // workers blocked in generation_.wait
  Counter callerSleeping_;   // 1 while the caller is blocked in pending_.wait
  std::atomic<bool> failed_{false};
  std::unique_ptr<std::exception_ptr[]> errors_; // one slot per worker
  std::atomic<bool> busy_{false};                // catches misuse in debug
  bool pauseFirst_; // poll with pause before yielding (not oversubscribed)
};

} // namespace kiln::runtime
