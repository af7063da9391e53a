// Overhead of ThreadPool::parallelFor: the time one call costs beyond the
// work it runs. The executor makes one call per kernel per token, so this is
// paid a few hundred times per token.
//
//   BM_ParallelForEmpty/T     T threads, one empty task per worker
//   BM_ParallelForTiny/T      T threads, 4096 tasks of a few nanoseconds
//   BM_SerialTiny             the same 4096 tasks as one plain call
//   BM_StdFunctionCall        one call through std::function, for scale
//
// With more threads than the machine's hardware threads, workers yield and
// sleep instead of polling, so those rows measure wake-ups through the kernel.
#include "runtime/cpu/ThreadPool.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace {

using kiln::runtime::ThreadPool;

void BM_ParallelForEmpty(benchmark::State &state) {
  ThreadPool pool(unsigned(state.range(0)));
  ThreadPool::Task task = [](int64_t begin, int64_t, unsigned) {
    benchmark::DoNotOptimize(begin);
  };
  for (auto _ : state)
    pool.parallelFor(pool.size(), task);
}

constexpr int64_t kTinyTasks = 4096;

void tinyWork(float *out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i)
    out[i] = out[i] * 0.5f + 1.0f;
}

void BM_ParallelForTiny(benchmark::State &state) {
  ThreadPool pool(unsigned(state.range(0)));
  std::vector<float> data(kTinyTasks, 1.0f);
  float *out = data.data();
  ThreadPool::Task task = [out](int64_t begin, int64_t end, unsigned) {
    tinyWork(out, begin, end);
  };
  for (auto _ : state) {
    pool.parallelFor(kTinyTasks, task);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kTinyTasks);
}

void BM_SerialTiny(benchmark::State &state) {
  std::vector<float> data(kTinyTasks, 1.0f);
  for (auto _ : state) {
    tinyWork(data.data(), 0, kTinyTasks);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kTinyTasks);
}

void BM_StdFunctionCall(benchmark::State &state) {
  ThreadPool::Task task = [](int64_t begin, int64_t, unsigned) {
    benchmark::DoNotOptimize(begin);
  };
  for (auto _ : state)
    task(0, 1, 0);
}

void threadCounts(benchmark::internal::Benchmark *bench) {
  unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  std::vector<int64_t> counts = {1, 2, 4};
  if (hardware > 4)
    counts.push_back(hardware);
  for (int64_t count : counts)
    bench->Arg(count);
}

} // namespace

BENCHMARK(BM_ParallelForEmpty)->Apply(threadCounts)->UseRealTime();
BENCHMARK(BM_ParallelForTiny)->Apply(threadCounts)->UseRealTime();
BENCHMARK(BM_SerialTiny);
BENCHMARK(BM_StdFunctionCall);
BENCHMARK_MAIN();
