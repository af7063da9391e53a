#include "runtime/Perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace kiln::runtime {
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

} // namespace
} // namespace kiln::runtime
