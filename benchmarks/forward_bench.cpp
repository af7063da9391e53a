// Prefill and decode speed of a compiled model on this CPU, with the
// machine's read bandwidth measured in the same run so decode can be given
// as a fraction of the roofline (tokens/s <= bandwidth / bytes read per
// token). usage: kiln_bench_forward MODEL [-p PROMPT_TOKENS] [-n DECODES]
//                [-t THREADS] [-r REPEATS]
// Prints one JSON object.
#include "CpuPipeline.h"
#include "gguf/GgufFile.h"
#include "runtime/Executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <string>
#include <thread>
#include <vector>

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Sums [lo, hi) of 8-byte words with 256-bit loads, four independent
// accumulators, so the loop is bound by memory and not by the adds.
__attribute__((target("avx2"))) uint64_t sumWords(const uint64_t *words,
                                                  size_t lo, size_t hi) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = lo; i + 16 <= hi; i += 16) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)(words + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256((const __m256i *)(words + i + 4)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256((const __m256i *)(words + i + 8)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256((const __m256i *)(words + i + 12)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256((__m256i *)lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// Best of 3 passes summing a 1 GiB buffer, one chunk per thread.
double readBandwidth(unsigned threads) {
  size_t bytes = size_t(1) << 30, words = bytes / 8;
  std::vector<uint64_t> buffer(words, 1);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<uint64_t> sums(threads);
    auto start = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        size_t lo = words / threads * t, hi = words / threads * (t + 1);
        sums[t] = sumWords(buffer.data(), lo, hi);
      });
    for (auto &thread : pool)
      thread.join();
    double s = seconds(start, Clock::now());
    if (sums[0] != words / threads) // keeps the loop from being elided
      std::fprintf(stderr, "bandwidth check failed\n");
    best = std::max(best, bytes / s / 1e9);
  }
  return best;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [-p N] [-n N] [-t N] [-r N]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1];
  int prompt = 128, decodes = 32, repeats = 3;
  unsigned threads = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    int value = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "-p")) prompt = value;
    else if (!std::strcmp(argv[i], "-n")) decodes = value;
    else if (!std::strcmp(argv[i], "-t")) threads = unsigned(value);
    else if (!std::strcmp(argv[i], "-r")) repeats = value;
  }
  auto file = GgufFile::open(path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().message.c_str());
    return 1;
  }
  auto compileStart = Clock::now();
  auto program = codegen::compileForCpu(*file);
  if (!program) {
    std::fprintf(stderr, "%s\n", program.error().message.c_str());
    return 1;
  }
  double compileSeconds = seconds(compileStart, Clock::now());
  runtime::ThreadPool pool(threads);
  runtime::ExecutorOptions options;
  options.maxBatch = prompt;
  options.contextLength = std::min<int64_t>(program->spec.contextLength,
                                            prompt + decodes + 1);
  auto executor = runtime::Executor::create(program->lowered.plan,
                                            program->jit->kernels(), *file,
                                            pool, options);
  if (!executor) {
    std::fprintf(stderr, "%s\n", executor.error().message.c_str());
    return 1;
  }
  std::vector<int32_t> tokens(prompt);
  for (int i = 0; i < prompt; ++i)
    tokens[i] = int32_t((i * 7919 + 13) % program->spec.vocabSize);

  // Warm-up: the first pass faults the mapped weights into memory.
  if (!(*executor)->prefill(tokens, 0).ok())
    return 1;
  std::vector<double> prefillRates, decodeRates;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    auto logits = (*executor)->prefill(tokens, 0);
    prefillRates.push_back(prompt / seconds(start, Clock::now()));
    start = Clock::now();
    for (int i = 0; i < decodes && logits.ok(); ++i)
      logits = (*executor)->decode(tokens[i % prompt], prompt + i);
    if (!logits.ok()) {
      std::fprintf(stderr, "%s\n", logits.error().message.c_str());
      return 1;
    }
    decodeRates.push_back(decodes / seconds(start, Clock::now()));
  }
  uint64_t weightBytes = 0;
  for (const std::string &name : program->lowered.plan.weightNames)
    weightBytes += file->findTensor(name)->byteSize;
  double bandwidth = readBandwidth(threads);
  double decode = median(decodeRates);
  double roofline = bandwidth * 1e9 / double(weightBytes);
  std::printf("{\"model\": \"%s\", \"threads\": %u, \"compile_s\": %.3f, "
              "\"prompt_tokens\": %d, \"prefill_tok_s\": %.2f, "
              "\"prefill_tok_s_min\": %.2f, \"prefill_tok_s_max\": %.2f, "
              "\"decode_tok_s\": %.2f, \"decode_tok_s_min\": %.2f, "
              "\"decode_tok_s_max\": %.2f, \"weight_bytes\": %llu, "
              "\"read_bandwidth_gb_s\": %.2f, \"decode_roofline_tok_s\": %.2f, "
              "\"roofline_fraction\": %.3f}\n",
              path.c_str(), threads, compileSeconds, prompt,
              median(prefillRates),
              *std::min_element(prefillRates.begin(), prefillRates.end()),
              *std::max_element(prefillRates.begin(), prefillRates.end()),
              decode, *std::min_element(decodeRates.begin(), decodeRates.end()),
              *std::max_element(decodeRates.begin(), decodeRates.end()),
              (unsigned long long)weightBytes, bandwidth, roofline,
              decode / roofline);
  return 0;
}
