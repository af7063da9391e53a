// The pieces of `kiln bench` that need no compiled model: rate summaries,
// the benchmark prompt, the per-kind kernel breakdown, the bandwidth probe.
#include "eval/ForwardTiming.h"
#include "eval/KernelBreakdown.h"
#include "eval/MemoryBandwidth.h"

#include <gtest/gtest.h>

namespace kiln::eval {
namespace {

TEST(BenchMeasure, SummaryIsTheMedianAndTheSpread) {
  RateSummary odd = summarizeRates({30, 10, 20});
  EXPECT_EQ(odd.median, 20);
  EXPECT_EQ(odd.min, 10);
  EXPECT_EQ(odd.max, 30);
  RateSummary even = summarizeRates({40, 10, 20, 30});
  EXPECT_EQ(even.median, 25); // the mean of the middle two
  EXPECT_EQ(even.min, 10);
  EXPECT_EQ(even.max, 40);
  RateSummary one = summarizeRates({7});
  EXPECT_EQ(one.median, 7);
  EXPECT_EQ(one.min, 7);
  EXPECT_EQ(one.max, 7);
  RateSummary none = summarizeRates({});
  EXPECT_EQ(none.median, 0);
}

TEST(BenchMeasure, PromptIdsAreInTheVocabularyAndRepeatable) {
  std::vector<int32_t> tokens = benchmarkTokens(600, 256);
  ASSERT_EQ(tokens.size(), 600u);
  for (int32_t id : tokens) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 256);
  }
  EXPECT_EQ(tokens, benchmarkTokens(600, 256));
  EXPECT_NE(tokens[0], tokens[1]);
  EXPECT_TRUE(benchmarkTokens(0, 256).empty());
}

TEST(BenchMeasure, KernelKindIsTheSymbolWithoutItsIndex) {
  EXPECT_EQ(kernelKind("kiln_0_embedding"), "embedding");
  EXPECT_EQ(kernelKind("kiln_12_matmul_q8_0"), "matmul_q8_0");
  EXPECT_EQ(kernelKind("my_kernel"), "my_kernel");
  EXPECT_EQ(kernelKind("kiln_x_rope"), "kiln_x_rope");
  EXPECT_EQ(kernelKind("kiln_3_"), "kiln_3_");
  EXPECT_EQ(kernelKind("kiln_3"), "kiln_3");
}

TEST(BenchMeasure, BreakdownSumsKindsLargestFirst) {
  std::vector<std::string> symbols = {"kiln_0_embedding", "kiln_1_matmul_q8_0",
                                      "kiln_2_rms_norm", "kiln_3_matmul_q8_0",
                                      "kiln_4_unused"};
  std::vector<double> seconds = {0.5, 2.0, 1.0, 1.5, 0};
  std::vector<uint64_t> calls = {1, 10, 5, 10, 0};
  std::vector<KernelShare> shares = groupByKernelKind(symbols, seconds, calls);
  ASSERT_EQ(shares.size(), 3u); // the kernel that never ran is left out
  EXPECT_EQ(shares[0].kind, "matmul_q8_0");
  EXPECT_DOUBLE_EQ(shares[0].seconds, 3.5);
  EXPECT_EQ(shares[0].calls, 20u);
  EXPECT_DOUBLE_EQ(shares[0].fraction, 0.7);
  EXPECT_EQ(shares[1].kind, "rms_norm");
  EXPECT_DOUBLE_EQ(shares[1].fraction, 0.2);
  EXPECT_EQ(shares[2].kind, "embedding");
  EXPECT_DOUBLE_EQ(shares[2].fraction, 0.1);
}

TEST(BenchMeasure, BreakdownOfNoTimeHasNoFractions) {
  std::vector<KernelShare> shares =
      groupByKernelKind({"kiln_0_a", "kiln_1_b"}, {0, 0}, {3, 0});
  ASSERT_EQ(shares.size(), 1u); // called, though too fast to measure
  EXPECT_EQ(shares[0].kind, "a");
  EXPECT_EQ(shares[0].fraction, 0);
}

TEST(BenchMeasure, BandwidthProbeMeasuresSomething) {
  for (unsigned threads : {1u, 3u}) {
    runtime::ThreadPool pool(threads);
    BandwidthProbeOptions options;
    options.bytes = 8 << 20; // small: this checks the plumbing, not the machine
    options.passes = 2;
    EXPECT_GT(measureReadBandwidth(pool, options), 0) << threads;
  }
}

} // namespace
} // namespace kiln::eval
