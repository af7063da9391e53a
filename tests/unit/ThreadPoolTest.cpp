#include "runtime/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln::runtime {
namespace {

const unsigned kPoolSizes[] = {1, 2, 3, 8};
const int64_t kCounts[] = {0,  1,  2,  3,  4,   5,   7,    8,    9,
                           15, 16, 17, 63, 100, 257, 1000, 12345};

uint64_t mix(uint64_t x) { // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

TEST(ThreadPool, ZeroThreadsMeansOnePerHardwareThread) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(ThreadPool(3).size(), 3u);
}

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
  for (unsigned threads : kPoolSizes) {
    ThreadPool pool(threads);
    for (int64_t count : kCounts) {
      std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[count + 1]);
      for (int64_t i = 0; i <= count; ++i)
        hits[i] = 0;
      pool.parallelFor(count, [&](int64_t begin, int64_t end, unsigned) {
        for (int64_t i = begin; i < end; ++i)
          hits[i].fetch_add(1, std::memory_order_relaxed);
      });
      for (int64_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[i].load(), 1)
            << "task " << i << " of " << count << ", " << threads << " threads";
      EXPECT_EQ(hits[count].load(), 0);
    }
  }
}

// Worker w gets the w-th contiguous chunk, the first count % size chunks one
// task longer; empty chunks are not run; worker 0 is the calling thread.
TEST(ThreadPool, StaticContiguousPartition) {
  for (unsigned threads : kPoolSizes) {
    ThreadPool pool(threads);
    for (int64_t count : kCounts) {
      if (count == 0)
        continue;
      std::vector<int64_t> begins(threads, -1), ends(threads, -1);
      std::vector<int> calls(threads, 0);
      std::thread::id callerSeen;
      pool.parallelFor(count, [&](int64_t begin, int64_t end, unsigned w) {
        ASSERT_LT(w, threads);
        ++calls[w]; // each worker writes only its own slot
        begins[w] = begin;
        ends[w] = end;
        if (w == 0)
          callerSeen = std::this_thread::get_id();
      });
      EXPECT_EQ(callerSeen, std::this_thread::get_id());
      int64_t base = count / threads, extra = count % threads, next = 0;
      for (unsigned w = 0; w < threads; ++w) {
        int64_t length = base + (int64_t(w) < extra ? 1 : 0);
        auto expected = ThreadPool::chunk(count, threads, w);
        EXPECT_EQ(expected.begin, next);
        EXPECT_EQ(expected.end, next + length);
        if (length == 0) {
          EXPECT_EQ(calls[w], 0) << "worker " << w << " ran an empty chunk";
        } else {
          ASSERT_EQ(calls[w], 1) << "worker " << w << ", count " << count;
          EXPECT_EQ(begins[w], next);
          EXPECT_EQ(ends[w], next + length);
        }
        next += length;
      }
      EXPECT_EQ(next, count);
    }
  }
}

TEST(ThreadPool, SameChunksOnEveryCall) {
  ThreadPool pool(3);
  std::vector<int64_t> first(3, -1), again(3, -1);
  pool.parallelFor(100, [&](int64_t begin, int64_t, unsigned w) { first[w] = begin; });
  for (int i = 0; i < 100; ++i) {
    pool.parallelFor(100, [&](int64_t begin, int64_t, unsigned w) { again[w] = begin; });
    ASSERT_EQ(first, again);
  }
}

TEST(ThreadPool, ResultsDoNotDependOnThePoolSize) {
  const int64_t count = 10007;
  std::vector<uint64_t> serial(count);
  for (int64_t i = 0; i < count; ++i)
    serial[i] = mix(uint64_t(i));
  for (unsigned threads : kPoolSizes) {
    ThreadPool pool(threads);
    std::vector<uint64_t> out(count, 0);
    // Per-task values and a per-chunk reduction combined in chunk order.
    std::vector<uint64_t> partial(threads, 0);
    pool.parallelFor(count, [&](int64_t begin, int64_t end, unsigned w) {
      uint64_t sum = 0;
      for (int64_t i = begin; i < end; ++i) {
        out[i] = mix(uint64_t(i));
        sum += out[i];
      }
      partial[w] = sum;
    });
    uint64_t total = 0, expected = 0;
    for (uint64_t p : partial)
      total += p;
    for (uint64_t v : serial)
      expected += v;
    EXPECT_EQ(out, serial) << threads << " threads";
    EXPECT_EQ(total, expected) << threads << " threads";
  }
}

TEST(ThreadPool, ManyThousandsOfBackToBackCalls) {
  for (unsigned threads : kPoolSizes) {
    ThreadPool pool(threads);
    const int calls = 20000;
    const int64_t count = 2 * threads + 1;
    std::vector<int64_t> hits(count, 0); // each index has one owner per call
    for (int call = 0; call < calls; ++call)
      pool.parallelFor(count, [&](int64_t begin, int64_t end, unsigned) {
        for (int64_t i = begin; i < end; ++i)
          ++hits[i];
      });
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(hits[i], calls) << "task " << i << ", " << threads << " threads";
  }
}

// Calls with pauses between them, long enough for the workers to stop
// polling and sleep: the wake-up path must not lose a call.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    pool.parallelFor(30, [&](int64_t begin, int64_t end, unsigned) {
      for (int64_t i = begin; i < end; ++i)
        sum += i;
    });
    EXPECT_EQ(sum.load(), (round + 1) * (29 * 30 / 2));
  }
}

// A slow chunk on one worker keeps the caller waiting past its polling time,
// so it sleeps and must be woken by the last worker.
TEST(ThreadPool, CallerWaitsForASlowWorker) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  for (int round = 0; round < 3; ++round) {
    pool.parallelFor(2, [&](int64_t, int64_t, unsigned w) {
      if (w == 1)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ++done;
    });
    EXPECT_EQ(done.load(), 2 * (round + 1));
  }
}

TEST(ThreadPool, ExceptionsReachTheCallerAndThePoolStaysUsable) {
  for (unsigned threads : {1u, 3u}) {
    ThreadPool pool(threads);
    for (unsigned thrower = 0; thrower < threads; ++thrower) {
      std::atomic<int> ran{0};
      EXPECT_THROW(pool.parallelFor(threads,
                                    [&](int64_t, int64_t, unsigned w) {
                                      ++ran;
                                      if (w == thrower)
                                        throw std::runtime_error("task failed");
                                    }),
                   std::runtime_error);
      EXPECT_EQ(ran.load(), int(threads)) << "other chunks still ran";
      std::atomic<int64_t> after{0};
      pool.parallelFor(10, [&](int64_t begin, int64_t end, unsigned) {
        after += end - begin;
      });
      EXPECT_EQ(after.load(), 10);
    }
  }
}

TEST(ThreadPool, ShutsDownCleanly) {
  for (unsigned threads : kPoolSizes) {
    { ThreadPool idle(threads); } // never used
    {
      ThreadPool used(threads);
      used.parallelFor(100, [](int64_t, int64_t, unsigned) {});
    } // destroyed while its workers poll
    {
      ThreadPool asleep(threads);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    } // destroyed while its workers sleep
  }
}

TEST(ThreadPool, IndependentPoolsOnSeveralThreads) {
  std::vector<std::thread> callers;
  std::vector<int64_t> totals(3, 0);
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&totals, c] {
      ThreadPool pool(2);
      std::vector<int64_t> partial(2, 0);
      for (int call = 0; call < 2000; ++call)
        pool.parallelFor(64, [&](int64_t begin, int64_t end, unsigned w) {
          partial[w] += end - begin;
        });
      totals[c] = partial[0] + partial[1];
    });
  for (std::thread &caller : callers)
    caller.join();
  for (int64_t total : totals)
    EXPECT_EQ(total, 2000 * 64);
}

} // namespace
} // namespace kiln::runtime
