#include "runtime/Sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace kiln::runtime {
namespace {

Sampler make(SamplerOptions options, uint32_t vocab = 4) {
  auto sampler = Sampler::create(options, vocab);
  EXPECT_TRUE(sampler.ok()) << sampler.error().message;
  return std::move(sampler).value();
}

TEST(Sampler, GreedyPicksTheArgmaxLowestIdOnTies) {
  SamplerOptions options;
  options.temperature = 0;
  Sampler sampler = make(options);
  std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(sampler.sample(logits), 1);
}

TEST(Sampler, TopKOfOneIsGreedyAtAnyTemperature) {
  SamplerOptions options;
  options.temperature = 5.0f;
  options.topK = 1;
  Sampler sampler = make(options);
  std::vector<float> logits = {0.5f, 0.1f, 3.0f, 2.9f};
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(sampler.sample(logits), 2);
}

// Probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs).
std::vector<float> halving() {
  return {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
}

std::map<int32_t, int> histogram(Sampler &sampler, std::vector<float> logits,
                                 int draws) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i)
    ++counts[sampler.sample(logits)];
  return counts;
}

TEST(Sampler, TopPKeepsTheShortestPrefixReachingP) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.topK = 0;
  options.minP = 0;
  options.topP = 0.7f; // 0.5 < 0.7 <= 0.75: tokens 0 and 1 remain
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 30000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[0] / 30000.0, 2.0 / 3.0, 0.02);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.topK = 0;
  options.topP = 1.0f;
  options.minP = 0.3f; // keeps p >= 0.15: tokens 0 and 1
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 10000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count(2), 0u);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.topK = 0;
  options.topP = 1.0f;
  options.minP = 0;
  options.seed = 1234;
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 100000);
  EXPECT_NEAR(counts[0] / 100000.0, 0.5, 0.01);
  EXPECT_NEAR(counts[1] / 100000.0, 0.25, 0.01);
  EXPECT_NEAR(counts[3] / 100000.0, 0.125, 0.01);
}

TEST(Sampler, TemperatureSharpens) {
  SamplerOptions options;
  options.temperature = 0.5f; // squares the probabilities: 16:4:1:1
  options.topK = 0;
  options.topP = 1.0f;
  options.minP = 0;
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 100000);
  EXPECT_NEAR(counts[0] / 100000.0, 16.0 / 22.0, 0.01);
}

TEST(Sampler, RepetitionPenaltyScalesRecentTokens) {
  SamplerOptions options;
  options.temperature = 0;
  options.repeatPenalty = 4.0f;
  Sampler sampler = make(options);
  std::vector<float> logits = {2.0f, 1.0f, -1.0f, 0.0f};
  sampler.accept(0); // 2.0 -> 0.5: token 1 (1.0) now wins
  EXPECT_EQ(sampler.sample(logits), 1);
  sampler.accept(1); // 1.0 -> 0.25: token 0 (0.5) wins again
  EXPECT_EQ(sampler.sample(logits), 0);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplerOptions options;
  options.temperature = 1.0f;
  options.topK = 0;
  options.seed = 99;
  Sampler a = make(options), b = make(options);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.sample(halving()), b.sample(halving()));
}

TEST(Sampler, RejectsBadOptions) {
  SamplerOptions options;
  options.topP = 0.0f;
  auto bad = Sampler::create(options, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("top-p"), std::string::npos);
  options = {};
  options.repeatPenalty = -1;
  EXPECT_FALSE(Sampler::create(options, 10).ok());
  EXPECT_FALSE(Sampler::create({}, 0).ok());
}

} // namespace
} // namespace kiln::runtime
