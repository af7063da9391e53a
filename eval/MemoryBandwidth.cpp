#include "eval/MemoryBandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kiln::eval {

namespace {

// Sums words [lo, hi) with four independent accumulators, so the loop is
// bound by memory and not by the chain of adds.
uint64_t sumWordsPortable(const uint64_t *words, size_t lo, size_t hi) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = lo;
  for (; i + 4 <= hi; i += 4) {
    a += words[i];
    b += words[i + 1];
    c += words[i + 2];
    d += words[i + 3];
  }
  for (; i < hi; ++i)
    a += words[i];
  return a + b + c + d;
}

#if defined(__x86_64__)
// The same with 256-bit loads: one core can then issue enough loads to
// approach what its share of the memory system delivers.
__attribute__((target("avx2"))) uint64_t sumWordsAvx2(const uint64_t *words,
                                                      size_t lo, size_t hi) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = lo;
  for (; i + 16 <= hi; i += 16) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)(words + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256((const __m256i *)(words + i + 4)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256((const __m256i *)(words + i + 8)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256((const __m256i *)(words + i + 12)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256((__m256i *)lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + sumWordsPortable(words, i, hi);
}
#endif

volatile uint64_t probeSink = 0;

uint64_t sumWords(const uint64_t *words, size_t lo, size_t hi) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2)
    return sumWordsAvx2(words, lo, hi);
#endif
  return sumWordsPortable(words, lo, hi);
}

} // namespace

double measureReadBandwidth(runtime::ThreadPool &pool, const BandwidthProbeOptions &options) {
  size_t words = std::max<size_t>(options.bytes / 8, 1);
  // Filled (not just reserved) so every page is mapped before timing.
  std::vector<uint64_t> buffer(words, 1);
  unsigned workers = pool.size();
  std::vector<uint64_t> sums(workers);
  double best = 0;
  for (int pass = 0; pass < std::max(options.passes, 1); ++pass) {
    auto start = std::chrono::steady_clock::now();
    pool.parallelFor(workers, [&](int64_t begin, int64_t end, unsigned) {
      for (int64_t w = begin; w < end; ++w) {
        runtime::ThreadPool::Range slice = runtime::ThreadPool::chunk(int64_t(words), workers, unsigned(w));
        sums[w] = sumWords(buffer.data(), size_t(slice.begin), size_t(slice.end));
      }
    });
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Storing the sums where the compiler must keep them keeps the reads.
    for (uint64_t s : sums)
      probeSink = probeSink + s;
    if (seconds > 0)
      best = std::max(best, double(words * 8) / seconds);
  }
  return best;
}

} // namespace kiln::eval
