#include "ThreadPool.h"

namespace kiln::runtime {

namespace {
// Spins before sleeping: kernels follow each other within microseconds.
constexpr int kSpinIterations = 20000;
} // namespace

ThreadPool::ThreadPool(unsigned threads)
    : size_(threads ? threads
                    : std::max(1u, std::thread::hardware_concurrency())) {
  for (unsigned w = 1; w < size_; ++w)
    threads_.emplace_back([this, w] { workerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (std::thread &thread : threads_)
    thread.join();
}

void ThreadPool::runChunk(unsigned worker) {
  int64_t chunk = count_ / size_, extra = count_ % size_;
  int64_t begin = worker * chunk + std::min<int64_t>(worker, extra);
  int64_t end = begin + chunk + (worker < extra ? 1 : 0);
  if (begin < end)
    (*task_)(begin, end, worker);
}

void ThreadPool::parallelFor(int64_t count, const Task &fn) {
  if (count <= 0)
    return;
  if (size_ == 1 || count == 1) {
    fn(0, count, 0);
    return;
  }
  task_ = &fn;
  count_ = count;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  runChunk(0);
  while (pending_.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();
}

void ThreadPool::workerLoop(unsigned worker) {
  uint64_t seen = 0;
  while (true) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int spin = 0; current == seen && spin < kSpinIterations; ++spin)
      current = generation_.load(std::memory_order_acquire);
    if (current == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      });
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stopping_)
      return;
    runChunk(worker);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

} // namespace kiln::runtime
