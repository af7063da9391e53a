#include "runtime/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

namespace kiln::runtime {
namespace {

Sampler make(SamplerOptions options, uint32_t vocab = 4) {
  auto sampler = Sampler::create(options, vocab);
  EXPECT_TRUE(sampler.ok()) << sampler.error().message;
  return std::move(sampler).value();
}

// Only the stage under test switched on.
SamplerOptions plain(float temperature = 1.0f) {
  SamplerOptions options;
  options.temperature = temperature;
  options.topK = 0;
  options.topP = 1.0f;
  options.minP = 0.0f;
  options.repeatPenalty = 1.0f;
  options.seed = 1234;
  return options;
}

std::vector<float> logitsOf(std::initializer_list<double> probabilities) {
  std::vector<float> logits;
  for (double p : probabilities)
    logits.push_back(float(std::log(p)));
  return logits;
}

// Probabilities 0.5, 0.25, 0.125, 0.125.
std::vector<float> halving() { return logitsOf({0.5, 0.25, 0.125, 0.125}); }

std::map<int32_t, int> histogram(Sampler &sampler,
                                 const std::vector<float> &logits, int draws) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i)
    ++counts[sampler.sample(logits)];
  return counts;
}

// The tokens a sampler can still pick. Every kept token of the small
// distributions below has probability >= 1/16 after renormalization, so
// 3000 draws miss one with probability below 1e-80; the seed is fixed anyway.
std::set<int32_t> support(SamplerOptions options,
                          const std::vector<float> &logits) {
  Sampler sampler = make(options, uint32_t(logits.size()));
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i)
    seen.insert(sampler.sample(logits));
  return seen;
}

std::vector<float> randomLogits(std::mt19937 &rng, size_t n) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(n);
  for (float &logit : logits)
    logit = normal(rng);
  return logits;
}

// ---- greedy -----------------------------------------------------------------

TEST(Sampler, GreedyPicksTheArgmaxLowestIdOnTies) {
  Sampler sampler = make(plain(0.0f));
  EXPECT_EQ(sampler.sample(std::vector<float>{0.5f, 2.0f, 2.0f, -1.0f}), 1);
  EXPECT_EQ(sampler.sample(std::vector<float>{7.0f, 7.0f, 7.0f, 7.0f}), 0);
  EXPECT_EQ(sampler.sample(std::vector<float>{-3.0f, -2.0f, -5.0f, -2.5f}), 1);
}

TEST(Sampler, GreedyMatchesMaxElementOnLargeVocabularies) {
  std::mt19937 rng(7);
  SamplerOptions options; // default top-k/top-p/min-p stay on
  options.temperature = 0.0f;
  Sampler sampler = make(options, 32000);
  for (int row = 0; row < 20; ++row) {
    std::vector<float> logits = randomLogits(rng, 32000);
    int32_t expected =
        int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(sampler.sample(logits), expected);
  }
}

TEST(Sampler, NegativeTemperatureIsGreedy) {
  Sampler sampler = make(plain(-1.0f));
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(sampler.sample(halving()), 0);
}

TEST(Sampler, TopKOfOneIsGreedyAtAnyTemperature) {
  std::mt19937 rng(11);
  for (float temperature : {0.01f, 0.8f, 1.0f, 5.0f, 1000.0f}) {
    SamplerOptions options;
    options.temperature = temperature;
    options.topK = 1;
    Sampler topOne = make(options, 500);
    options.temperature = 0.0f;
    Sampler greedy = make(options, 500);
    for (int row = 0; row < 50; ++row) {
      std::vector<float> logits = randomLogits(rng, 500);
      logits[row] = logits[row + 100] = 50.0f; // a tie now and then
      ASSERT_EQ(topOne.sample(logits), greedy.sample(logits))
          << "temperature " << temperature;
    }
  }
}

// ---- top-k, top-p, min-p ----------------------------------------------------

TEST(Sampler, TopKKeepsTheKBest) {
  SamplerOptions options = plain();
  options.topK = 2;
  EXPECT_EQ(support(options, halving()), (std::set<int32_t>{0, 1}));
  options.topK = 3; // tokens 2 and 3 tie: the lower id stays
  EXPECT_EQ(support(options, halving()), (std::set<int32_t>{0, 1, 2}));
  options.topK = 100;
  EXPECT_EQ(support(options, halving()), (std::set<int32_t>{0, 1, 2, 3}));
}

// Cumulative mass best first: 0.5, 0.75, 0.875, 1. Top-p keeps the shortest
// prefix whose mass reaches p, the token that crosses p included.
TEST(Sampler, TopPKeepsTheShortestPrefixReachingP) {
  SamplerOptions options = plain();
  std::map<float, std::set<int32_t>> expected = {
      {0.0f, {0}},       {0.3f, {0}},          {0.7f, {0, 1}},
      {0.8f, {0, 1, 2}}, {0.95f, {0, 1, 2, 3}}, {1.0f, {0, 1, 2, 3}}};
  for (auto &[p, kept] : expected) {
    options.topP = p;
    EXPECT_EQ(support(options, halving()), kept) << "top-p " << p;
  }
}

TEST(Sampler, TopPRenormalizesWhatRemains) {
  SamplerOptions options = plain();
  options.topP = 0.7f; // keeps 0.5 and 0.25: 2/3 and 1/3
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 30000);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[0] / 30000.0, 2.0 / 3.0, 0.01);
  EXPECT_NEAR(counts[1] / 30000.0, 1.0 / 3.0, 0.01);
}

// Top-k runs before top-p: with probabilities 0.4, 0.3, 0.2, 0.1, top-p 0.5
// alone keeps {0, 1} (0.4 < 0.5 <= 0.7), but after top-k 2 the first token
// has 0.4 / 0.7 = 0.57 >= 0.5 on its own.
TEST(Sampler, TopPSeesTheDistributionLeftByTopK) {
  std::vector<float> logits = logitsOf({0.4, 0.3, 0.2, 0.1});
  SamplerOptions options = plain();
  options.topP = 0.5f;
  EXPECT_EQ(support(options, logits), (std::set<int32_t>{0, 1}));
  options.topK = 2;
  EXPECT_EQ(support(options, logits), (std::set<int32_t>{0}));
}

// Min-p keeps p_i >= minP * p_max; p_max = 0.5 here.
TEST(Sampler, MinPDropsTokensLessLikelyThanAFractionOfTheBest) {
  std::map<float, std::set<int32_t>> expected = {
      {0.2f, {0, 1, 2, 3}}, // >= 0.1
      {0.3f, {0, 1}},       // >= 0.15
      {0.6f, {0}},          // >= 0.3
      {1.0f, {0}}};
  for (auto &[minP, kept] : expected) {
    SamplerOptions options = plain();
    options.minP = minP;
    // Unsorted candidates (no top-k), then sorted ones (after top-k).
    EXPECT_EQ(support(options, halving()), kept) << "min-p " << minP;
    options.topK = 4;
    EXPECT_EQ(support(options, halving()), kept) << "min-p " << minP << ", top-k";
  }
}

// ---- temperature ------------------------------------------------------------

TEST(Sampler, TemperatureSharpens) {
  SamplerOptions options = plain(0.5f); // squares the probabilities: 16:4:1:1
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 100000);
  EXPECT_NEAR(counts[0] / 100000.0, 16.0 / 22.0, 0.01);
  EXPECT_NEAR(counts[1] / 100000.0, 4.0 / 22.0, 0.01);
}

// Temperature comes after the cut-offs: at temperature 100 the four tokens
// are almost equally likely, yet top-p and min-p still cut on the original
// probabilities.
TEST(Sampler, TemperatureIsAppliedAfterTheCutOffs) {
  SamplerOptions options = plain(100.0f);
  options.minP = 0.3f;
  EXPECT_EQ(support(options, halving()), (std::set<int32_t>{0, 1}));
  options = plain(100.0f);
  options.topP = 0.7f;
  EXPECT_EQ(support(options, halving()), (std::set<int32_t>{0, 1}));
  Sampler sampler = make(options);
  auto counts = histogram(sampler, halving(), 100000);
  // exp(log 2 / 100) = 1.00696: 0.50174 and 0.49826.
  EXPECT_NEAR(counts[0] / 100000.0, 0.5017, 0.006);
}

// ---- the draw ---------------------------------------------------------------

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  Sampler sampler = make(plain(), 3);
  auto counts = histogram(sampler, logitsOf({0.6, 0.3, 0.1}), 100000);
  ASSERT_EQ(counts.size(), 3u);
  // One standard deviation is at most 0.0016; the seed is fixed.
  EXPECT_NEAR(counts[0] / 100000.0, 0.6, 0.006);
  EXPECT_NEAR(counts[1] / 100000.0, 0.3, 0.006);
  EXPECT_NEAR(counts[2] / 100000.0, 0.1, 0.006);
}

TEST(Sampler, FrequenciesAreThoseOfTheLogitsNotOfTheirOrder) {
  // The same distribution, ids shuffled: frequencies follow the ids.
  Sampler sampler = make(plain(), 3);
  auto counts = histogram(sampler, logitsOf({0.1, 0.6, 0.3}), 100000);
  EXPECT_NEAR(counts[0] / 100000.0, 0.1, 0.006);
  EXPECT_NEAR(counts[1] / 100000.0, 0.6, 0.006);
  EXPECT_NEAR(counts[2] / 100000.0, 0.3, 0.006);
}

TEST(Sampler, SameSeedSameTokens) {
  std::mt19937 rng(3);
  std::vector<float> logits = randomLogits(rng, 1000);
  SamplerOptions options; // defaults: top-k 40, top-p 0.95, min-p 0.05
  options.temperature = 1.5f;
  options.seed = 99;
  Sampler a = make(options, 1000), b = make(options, 1000);
  options.seed = 100;
  Sampler c = make(options, 1000);
  std::vector<int32_t> first;
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    int32_t token = a.sample(logits);
    ASSERT_EQ(token, b.sample(logits));
    differs |= token != c.sample(logits);
    first.push_back(token);
  }
  EXPECT_TRUE(differs) << "seeds 99 and 100 drew the same 1000 tokens";
  a.reset(); // replays the same draws
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.sample(logits), first[i]);
}

// ---- repetition penalty -----------------------------------------------------

TEST(Sampler, RepetitionPenaltyScalesRecentTokens) {
  SamplerOptions options = plain(0.0f);
  options.repeatPenalty = 4.0f;
  Sampler sampler = make(options);
  std::vector<float> logits = {2.0f, 1.0f, -1.0f, 0.0f};
  sampler.accept(0); // 2.0 -> 0.5: token 1 (1.0) now wins
  EXPECT_EQ(sampler.sample(logits), 1);
  sampler.accept(1); // 1.0 -> 0.25: token 0 (0.5) wins again
  EXPECT_EQ(sampler.sample(logits), 0);
  sampler.reset(); // history gone
  EXPECT_EQ(sampler.sample(logits), 0);
}

TEST(Sampler, RepetitionPenaltyMultipliesNegativeLogits) {
  SamplerOptions options = plain(0.0f);
  options.repeatPenalty = 2.0f;
  Sampler sampler = make(options, 2);
  sampler.accept(0); // -1 -> -2, below token 1's -1.5
  EXPECT_EQ(sampler.sample(std::vector<float>{-1.0f, -1.5f}), 1);
}

TEST(Sampler, RepetitionPenaltyAppliesOncePerDistinctToken) {
  SamplerOptions options = plain(0.0f);
  options.repeatPenalty = 2.0f;
  Sampler sampler = make(options, 2);
  for (int i = 0; i < 3; ++i)
    sampler.accept(0); // 2 -> 1 (not 0.25): still above 0.9
  EXPECT_EQ(sampler.sample(std::vector<float>{2.0f, 0.9f}), 0);
}

TEST(Sampler, RepetitionPenaltyLooksAtTheLastNTokens) {
  SamplerOptions options = plain(0.0f);
  options.repeatPenalty = 4.0f;
  options.repeatLastN = 2;
  Sampler sampler = make(options);
  std::vector<float> logits = {2.0f, 1.5f, 1.0f, 0.0f};
  sampler.accept(0); // {0.5, 1.5, 1, 0}
  EXPECT_EQ(sampler.sample(logits), 1);
  sampler.accept(1); // {0.5, 0.375, 1, 0}
  EXPECT_EQ(sampler.sample(logits), 2);
  sampler.accept(2); // token 0 left the window: {2, 0.375, 0.25, 0}
  EXPECT_EQ(sampler.sample(logits), 0);

  options.repeatLastN = 0; // off
  Sampler off = make(options);
  off.accept(0);
  EXPECT_EQ(off.sample(logits), 0);
}

// Penalty 2 on tokens 0 and 2 of {1, 1, -1}: {0.5, 1, -2}, so the softmax is
// e^0.5 : e^1 : e^-2 = 1.6487 : 2.7183 : 0.1353 = 0.3662, 0.6038, 0.0301.
TEST(Sampler, RepetitionPenaltyBeforeTheDraw) {
  SamplerOptions options = plain();
  options.repeatPenalty = 2.0f;
  Sampler sampler = make(options, 3);
  sampler.accept(0);
  sampler.accept(2);
  sampler.accept(-5);   // ids outside the vocabulary are ignored
  sampler.accept(1000);
  auto counts = histogram(sampler, {1.0f, 1.0f, -1.0f}, 100000);
  EXPECT_NEAR(counts[0] / 100000.0, 0.3662, 0.006);
  EXPECT_NEAR(counts[1] / 100000.0, 0.6038, 0.006);
  EXPECT_NEAR(counts[2] / 100000.0, 0.0301, 0.003);
}

// ---- odd logits -------------------------------------------------------------

TEST(Sampler, NanLogitsCountAsMinusInfinity) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> logits = {nan, 1.0f, 0.0f, nan};
  EXPECT_EQ(make(plain(0.0f)).sample(logits), 1);
  EXPECT_EQ(support(plain(), logits), (std::set<int32_t>{1, 2}));
  SamplerOptions options; // defaults, with sorting
  EXPECT_EQ(support(options, logits).count(0), 0u);
}

TEST(Sampler, InfiniteLogits) {
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(support(plain(), {1.0f, inf, 3.0f, -inf}), (std::set<int32_t>{1}));
  EXPECT_EQ(support(plain(), {-inf, 0.0f, -inf, -inf}), (std::set<int32_t>{1}));
  // Nothing possible at all: still a valid id.
  int32_t token = make(plain()).sample(std::vector<float>(4, -inf));
  EXPECT_GE(token, 0);
  EXPECT_LT(token, 4);
  EXPECT_EQ(make(plain(0.0f)).sample(std::vector<float>(4, -inf)), 0);
}

TEST(Sampler, DefaultChainOnALargeVocabulary) {
  std::mt19937 rng(5);
  Sampler sampler = make(SamplerOptions{}, 32000);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> logits = randomLogits(rng, 32000);
    int32_t token = sampler.sample(logits);
    ASSERT_GE(token, 0);
    ASSERT_LT(token, 32000);
    // top-k 40: the token is among the 40 best.
    int better = 0;
    for (float logit : logits)
      better += logit > logits[token];
    EXPECT_LT(better, 40);
    sampler.accept(token);
  }
}

// ---- options ----------------------------------------------------------------

void expectRejected(const SamplerOptions &options, const std::string &word,
                    uint32_t vocab = 10) {
  auto sampler = Sampler::create(options, vocab);
  ASSERT_FALSE(sampler.ok()) << "accepted options that mention " << word;
  EXPECT_NE(sampler.error().message.find(word), std::string::npos)
      << sampler.error().message;
  EXPECT_EQ(sampler.error().message.rfind("sampler: ", 0), 0u)
      << sampler.error().message;
}

TEST(Sampler, RejectsBadOptions) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  float inf = std::numeric_limits<float>::infinity();
  SamplerOptions options;
  for (float bad : {-0.1f, 1.5f, nan}) {
    options = {};
    options.topP = bad;
    expectRejected(options, "top-p");
  }
  for (float bad : {-0.1f, 2.0f, nan}) {
    options = {};
    options.minP = bad;
    expectRejected(options, "min-p");
  }
  for (float bad : {0.0f, -1.0f, nan, inf}) {
    options = {};
    options.repeatPenalty = bad;
    expectRejected(options, "repetition penalty");
  }
  for (float bad : {nan, inf, -inf}) {
    options = {};
    options.temperature = bad;
    expectRejected(options, "temperature");
  }
  for (int bad : {-1, Sampler::kMaxRepeatLastN + 1}) {
    options = {};
    options.repeatLastN = bad;
    expectRejected(options, "repeat-last-n");
  }
  expectRejected({}, "vocabulary", 0);
  expectRejected({}, "vocabulary", 0x80000000u);

  options = {};
  options.topP = -0.5f;
  EXPECT_EQ(Sampler::create(options, 10).error().message,
            "sampler: top-p must be between 0 and 1 (1 turns it off), got -0.5");
}

TEST(Sampler, AcceptsEdgeOptions) {
  SamplerOptions options;
  options.temperature = 0.0f;
  options.topK = -1;
  options.topP = 0.0f;
  options.minP = 1.0f;
  options.repeatLastN = 0;
  EXPECT_TRUE(Sampler::create(options, 1).ok());
  options.topP = 1.0f;
  options.minP = 0.0f;
  options.repeatPenalty = 0.5f; // below 1 favours repeats; allowed, as in llama.cpp
  options.repeatLastN = Sampler::kMaxRepeatLastN;
  EXPECT_TRUE(Sampler::create(options, 1).ok());
}

} // namespace
} // namespace kiln::runtime
