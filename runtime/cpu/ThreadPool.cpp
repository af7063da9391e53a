#include "runtime/cpu/ThreadPool.h"

#include <algorithm>
#include <cassert>
#include <chrono>

namespace kiln::runtime {

namespace {

// How long an idle thread polls before it sleeps. Kernels of one token follow
// each other within microseconds, and a token's sampling takes well under
// this, so in the token loop workers rarely sleep; a pool left idle costs
// this much CPU per worker, once.
constexpr std::chrono::microseconds kSpinTime(100);
// Polling starts with the CPU's pause instruction (hand-offs within a
// microsecond or two), then yields the CPU between polls: on a machine
// busy with other work the thread we wait for may need our core.
constexpr std::chrono::microseconds kPauseTime(5);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls done() for a short while; true as soon as it holds. With more
// threads than hardware threads, it yields from the start.
template <typename Done>
bool spinUntil(bool pauseFirst, Done done) {
  auto poll = [&] {
    for (int i = 0; i < 16; ++i) {
      if (done())
        return true;
      cpuRelax();
    }
    return false;
  };
  if (poll()) // the common case reads no clock
    return true;
  auto start = std::chrono::steady_clock::now();
  while (!poll()) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed > kSpinTime)
      return done();
    if (!pauseFirst || elapsed > kPauseTime)
      std::this_thread::yield();
  }
  return true;
}

} // namespace

ThreadPool::Range ThreadPool::chunk(int64_t count, unsigned workers,
                                    unsigned worker) {
  int64_t base = count / workers, extra = count % workers;
  int64_t begin = worker * base + std::min<int64_t>(worker, extra);
  return {begin, begin + base + (int64_t(worker) < extra ? 1 : 0)};
}

ThreadPool::ThreadPool(unsigned threads)
    : size_(threads ? threads
                    : std::max(1u, std::thread::hardware_concurrency())),
      errors_(new std::exception_ptr[size_]),
      pauseFirst_(size_ <= std::max(1u, std::thread::hardware_concurrency())) {
  threads_.reserve(size_ - 1);
  try {
    for (unsigned w = 1; w < size_; ++w)
      threads_.emplace_back([this, w] { workerLoop(w); });
  } catch (...) {
    // Stop the threads already started before the pool disappears.
    stopping_ = true;
    generation_.value.fetch_add(1, std::memory_order_seq_cst);
    generation_.value.notify_all();
    for (std::thread &thread : threads_)
      thread.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  stopping_ = true;
  generation_.value.fetch_add(1, std::memory_order_seq_cst);
  generation_.value.notify_all();
  for (std::thread &thread : threads_)
    thread.join();
}

void ThreadPool::runChunk(unsigned worker) noexcept {
  Range range = chunk(count_, size_, worker);
  if (range.begin >= range.end)
    return;
  try {
    (*task_)(range.begin, range.end, worker);
  } catch (...) {
    errors_[worker] = std::current_exception();
    failed_.store(true, std::memory_order_relaxed);
  }
}

void ThreadPool::parallelFor(int64_t count, const Task &fn) {
  if (count <= 0)
    return;
  if (size_ == 1 || count == 1) {
    fn(0, count, 0);
    return;
  }
#ifndef NDEBUG
  bool wasBusy = busy_.exchange(true, std::memory_order_relaxed);
  assert(!wasBusy && "ThreadPool::parallelFor entered twice at once");
#endif

  // Publish the call, then wake the workers: those polling see the new
  // generation; a system call is made only when one of them sleeps.
  task_ = &fn;
  count_ = count;
  pending_.value.store(size_ - 1, std::memory_order_relaxed);
  generation_.value.fetch_add(1, std::memory_order_seq_cst);
  if (sleepingWorkers_.value.load(std::memory_order_seq_cst) != 0)
    generation_.value.notify_all();

  runChunk(0);

  auto done = [this] {
    return pending_.value.load(std::memory_order_acquire) == 0;
  };
  if (!spinUntil(pauseFirst_, done)) {
    callerSleeping_.value.store(1, std::memory_order_seq_cst);
    for (uint32_t left; (left = pending_.value.load(std::memory_order_seq_cst));)
      pending_.value.wait(left, std::memory_order_seq_cst);
    callerSleeping_.value.store(0, std::memory_order_relaxed);
  }
#ifndef NDEBUG
  busy_.store(false, std::memory_order_relaxed);
#endif

  if (failed_.load(std::memory_order_relaxed)) {
    failed_.store(false, std::memory_order_relaxed);
    std::exception_ptr first;
    for (unsigned w = 0; w < size_; ++w) {
      if (!first && errors_[w])
        first = errors_[w];
      errors_[w] = nullptr;
    }
    std::rethrow_exception(first);
  }
}

void ThreadPool::workerLoop(unsigned worker) {
  uint32_t seen = 0;
  while (true) {
    auto changed = [&] {
      return generation_.value.load(std::memory_order_acquire) != seen;
    };
    if (!spinUntil(pauseFirst_, changed)) {
      // Announce the sleep before the last look at the counter, so that a
      // caller bumping it either sees us here or we see its bump.
      sleepingWorkers_.value.fetch_add(1, std::memory_order_seq_cst);
      while (generation_.value.load(std::memory_order_seq_cst) == seen)
        generation_.value.wait(seen, std::memory_order_seq_cst);
      sleepingWorkers_.value.fetch_sub(1, std::memory_order_relaxed);
    }
    // The caller waits for every worker before the next call, so the
    // generation moved by exactly one.
    seen = generation_.value.load(std::memory_order_acquire);
    if (stopping_)
      return;
    runChunk(worker);
    if (pending_.value.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        callerSleeping_.value.load(std::memory_order_seq_cst) != 0)
      pending_.value.notify_one();
  }
}

} // namespace kiln::runtime
