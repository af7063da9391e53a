#include "eval/Perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace kiln::eval {
namespace {

// Equal logits: every token has probability 1 / vocab, so the perplexity
// is the vocabulary size and the spread zero.
TEST(Perplexity, UniformLogitsGiveTheVocabularySize) {
  std::vector<float> logits(3 * 50, 1.25f);
  std::vector<int32_t> targets = {0, 17, 49};
  PerplexityScore score;
  score.add(logits, targets, 50);
  EXPECT_EQ(score.count(), 3u);
  EXPECT_NEAR(score.perplexity(), 50.0, 1e-9);
  EXPECT_NEAR(score.perplexityError(), 0.0, 1e-9);
}

// Two tokens, logits (log 3, 0): p = 3/4 and 1/4. Scoring one of each gives
// nll = -log(3/4) and -log(1/4); the perplexity is exp of their mean, the
// error ppl * sqrt(var / (n - 1)) with the population variance.
TEST(Perplexity, MatchesTheDefinition) {
  std::vector<float> logits = {float(std::log(3.0)), 0.0f, float(std::log(3.0)), 0.0f};
  std::vector<int32_t> targets = {0, 1};
  PerplexityScore score;
  score.add(logits, targets, 2);
  double a = -std::log(0.75), b = -std::log(0.25);
  double mean = (a + b) / 2, variance = (a * a + b * b) / 2 - mean * mean;
  EXPECT_NEAR(score.perplexity(), std::exp(mean), 1e-6);
  EXPECT_NEAR(score.perplexityError(), std::exp(mean) * std::sqrt(variance / 1), 1e-6);
}

// The same logits twice: every divergence is exactly zero and every top
// token agrees.
TEST(KlScore, IdenticalLogitsGiveZeroAndFullAgreement) {
  std::vector<float> logits = {0.5f, -1.0f, 3.0f, 2.0f, 2.0f, 7.0f, -4.0f, 0.0f};
  KlScore score;
  score.add(logits, logits, 4);
  EXPECT_EQ(score.count(), 2u);
  EXPECT_EQ(score.meanKl(), 0.0);
  EXPECT_EQ(score.maxKl(), 0.0);
  EXPECT_EQ(score.klError(), 0.0);
  EXPECT_EQ(score.top1Agreement(), 1.0);
  EXPECT_EQ(score.top1Error(), 0.0);
}

// Base p = (0.5, 0.3, 0.2), model q = (0.2, 0.5, 0.3) (the model's logits
// shifted by a constant, which softmax ignores): KL(p || q) =
// 0.5 ln 2.5 + 0.3 ln 0.6 + 0.2 ln(2/3), and the top tokens differ.
TEST(KlScore, MatchesTheDefinitionOnThreeTokens) {
  std::vector<float> base = {float(std::log(0.5)), float(std::log(0.3)),
                             float(std::log(0.2))};
  std::vector<float> model = {float(std::log(0.2)) + 4, float(std::log(0.5)) + 4,
                              float(std::log(0.3)) + 4};
  KlScore score;
  score.add(base, model, 3);
  double expected = 0.5 * std::log(2.5) + 0.3 * std::log(0.6) + 0.2 * std::log(2.0 / 3);
  EXPECT_NEAR(score.meanKl(), expected, 1e-6);
  EXPECT_EQ(score.top1Agreement(), 0.0);
  // KL is not symmetric: the other direction is another number.
  KlScore reverse;
  reverse.add(model, base, 3);
  double other = 0.2 * std::log(0.4) + 0.5 * std::log(5.0 / 3) + 0.3 * std::log(1.5);
  EXPECT_NEAR(reverse.meanKl(), other, 1e-6);
}

// Three rows: two identical, one the pair above. The mean is a third of
// that divergence, the error sqrt(var / 2), the median zero, the maximum
// and the top quantile the divergence itself; 2 of 3 top tokens agree.
TEST(KlScore, SummarizesRows) {
  float a = float(std::log(0.5)), b = float(std::log(0.3)), c = float(std::log(0.2));
  std::vector<float> base = {a, b, c, a, b, c, a, b, c};
  std::vector<float> model = {a, b, c, c, a, b, a, b, c};
  KlScore score;
  score.add(base, model, 3);
  double kl = 0.5 * std::log(2.5) + 0.3 * std::log(0.6) + 0.2 * std::log(2.0 / 3);
  EXPECT_EQ(score.count(), 3u);
  EXPECT_NEAR(score.meanKl(), kl / 3, 1e-6);
  double mean = kl / 3, variance = kl * kl / 3 - mean * mean;
  EXPECT_NEAR(score.klError(), std::sqrt(variance / 2), 1e-6);
  EXPECT_EQ(score.klQuantile(0.5), 0.0);
  EXPECT_NEAR(score.klQuantile(1.0), kl, 1e-6);
  EXPECT_NEAR(score.maxKl(), kl, 1e-6);
  EXPECT_NEAR(score.klQuantile(0.75), kl / 2, 1e-6); // halfway up the top pair
  EXPECT_NEAR(score.top1Agreement(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(score.top1Error(), std::sqrt(2.0 / 9 / 2), 1e-12);
}

} // namespace
} // namespace kiln::eval
