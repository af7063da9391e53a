// Throughput of the reference quantizers and dequantizers (MB/s of f32).
// These are the scalar oracles, not the generated kernels: the numbers say
// how long tests and `kiln synth` spend in them.
#include "quant/Dequantize.h"
#include "quant/Quantize.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

namespace {

constexpr size_t kElements = 1 << 20;

std::vector<float> sampleWeights() {
  std::vector<float> values(kElements);
  for (size_t i = 0; i < kElements; ++i)
    values[i] = 0.02f * std::sin(0.37f * static_cast<float>(i)) *
                std::cos(0.011f * static_cast<float>(i));
  return values;
}

void BM_Quantize(benchmark::State &state, kiln::GgmlType type) {
  const auto &info = kiln::ggmlTypeInfo(type);
  std::vector<float> src = sampleWeights();
  std::vector<uint8_t> dst(kElements / info.blockSize * info.bytesPerBlock);
  for (auto _ : state) {
    auto status = kiln::quantize(type, src, dst);
    benchmark::DoNotOptimize(dst.data());
    if (!status)
      state.SkipWithError(status.message().c_str());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kElements * 4);
}

void BM_Dequantize(benchmark::State &state, kiln::GgmlType type) {
  const auto &info = kiln::ggmlTypeInfo(type);
  std::vector<uint8_t> src(kElements / info.blockSize * info.bytesPerBlock);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<uint8_t>(i * 131 + 7) & 0x3f; // finite half scales
  std::vector<float> dst(kElements);
  for (auto _ : state) {
    auto status = kiln::dequantize(type, src, dst);
    benchmark::DoNotOptimize(dst.data());
    if (!status)
      state.SkipWithError(status.message().c_str());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kElements * 4);
}

using kiln::GgmlType;
// Every type `kiln quantize` writes, one thread (it runs rows in parallel).
BENCHMARK_CAPTURE(BM_Quantize, f16, GgmlType::F16);
BENCHMARK_CAPTURE(BM_Quantize, bf16, GgmlType::BF16);
BENCHMARK_CAPTURE(BM_Quantize, q8_0, GgmlType::Q8_0);
BENCHMARK_CAPTURE(BM_Quantize, q5_1, GgmlType::Q5_1);
BENCHMARK_CAPTURE(BM_Quantize, q5_0, GgmlType::Q5_0);
BENCHMARK_CAPTURE(BM_Quantize, q4_1, GgmlType::Q4_1);
BENCHMARK_CAPTURE(BM_Quantize, q4_0, GgmlType::Q4_0);
BENCHMARK_CAPTURE(BM_Quantize, iq4_nl, GgmlType::IQ4_NL);
BENCHMARK_CAPTURE(BM_Quantize, q6_K, GgmlType::Q6_K);
BENCHMARK_CAPTURE(BM_Quantize, q5_K, GgmlType::Q5_K);
BENCHMARK_CAPTURE(BM_Quantize, q4_K, GgmlType::Q4_K);
BENCHMARK_CAPTURE(BM_Quantize, q3_K, GgmlType::Q3_K);
BENCHMARK_CAPTURE(BM_Quantize, q2_K, GgmlType::Q2_K);
BENCHMARK_CAPTURE(BM_Dequantize, f16, GgmlType::F16);
BENCHMARK_CAPTURE(BM_Dequantize, q8_0, GgmlType::Q8_0);
BENCHMARK_CAPTURE(BM_Dequantize, q4_0, GgmlType::Q4_0);
BENCHMARK_CAPTURE(BM_Dequantize, q4_K, GgmlType::Q4_K);
BENCHMARK_CAPTURE(BM_Dequantize, q6_K, GgmlType::Q6_K);

} // namespace

BENCHMARK_MAIN();
