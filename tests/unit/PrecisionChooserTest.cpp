#include "quant/PrecisionChooser.h"
#include "quant/QuantError.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace kiln {
namespace {

// Three tensors whose types trade bytes for cost; the numbers are small
// enough to check every combination by hand (or by brute force below).
std::vector<TensorOptions> threeTensors() {
  return {
      {"a", 100, {{GgmlType::Q4_0, 60, 9.0}, {GgmlType::Q8_0, 110, 1.0}, {GgmlType::F16, 200, 0.0}}},
      {"b", 100, {{GgmlType::Q4_0, 60, 2.0}, {GgmlType::Q8_0, 110, 0.5}, {GgmlType::F16, 200, 0.0}}},
      {"c", 100, {{GgmlType::Q2_K, 40, 30.0}, {GgmlType::Q4_0, 60, 5.0}, {GgmlType::Q8_0, 110, 0.1}}},
  };
}

// The least cost within a budget, by trying every combination.
double bruteForce(const std::vector<TensorOptions> &tensors, uint64_t budget) {
  double least = INFINITY;
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t k = 0; k < 3; ++k) {
        const TypeOption &a = tensors[0].options[i], &b = tensors[1].options[j],
                         &c = tensors[2].options[k];
        if (a.bytes + b.bytes + c.bytes <= budget)
          least = std::min(least, a.cost + b.cost + c.cost);
      }
  return least;
}

TEST(PrecisionChooser, FindsTheCheapestChoiceWithinTheBudget) {
  auto tensors = threeTensors();
  for (uint64_t budget = minimumBytes(tensors); budget <= 520; budget += 5) {
    auto choice = choosePrecision(tensors, budget);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_LE(choice->bytes, budget);
    EXPECT_DOUBLE_EQ(choice->cost, bruteForce(tensors, budget)) << budget;
  }
  // 230 bytes: a in q8_0 and c in q4_0 (cost 1 + 2 + 5 = 8) beat c alone
  // in q8_0 (9 + 2 + 0.1), which saves the most per byte.
  auto choice = choosePrecision(tensors, 230);
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->chosen, (std::vector<size_t>{1, 0, 1}));
  EXPECT_DOUBLE_EQ(choice->cost, 8.0);
  EXPECT_EQ(choice->bytes, 230u);
}

TEST(PrecisionChooser, MoreBudgetNeverCostsMore) {
  // Forty random tensors with four types each.
  std::mt19937 random(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<TensorOptions> tensors;
  uint64_t largest = 0;
  for (int t = 0; t < 40; ++t) {
    TensorOptions tensor{"t" + std::to_string(t), 1000, {}};
    uint64_t bytes = 200 + uint64_t(uniform(random) * 300);
    double cost = 10 + 100 * uniform(random);
    for (int o = 0; o < 4; ++o) {
      tensor.options.push_back({GgmlType::Q4_0, bytes, cost});
      bytes += 50 + uint64_t(uniform(random) * 400);
      cost *= uniform(random);
    }
    largest += tensor.options.back().bytes;
    tensors.push_back(std::move(tensor));
  }
  double previous = INFINITY;
  for (uint64_t budget = minimumBytes(tensors); budget <= largest + 100; budget += 331) {
    auto choice = choosePrecision(tensors, budget);
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_LE(choice->bytes, budget);
    EXPECT_LE(choice->cost, previous) << budget;
    previous = choice->cost;
  }
  // With room for everything, every tensor takes its best type.
  auto all = choosePrecision(tensors, largest);
  ASSERT_TRUE(all);
  for (size_t t = 0; t < tensors.size(); ++t)
    EXPECT_EQ(all->chosen[t], 3u) << t;
}

TEST(PrecisionChooser, RefusesABudgetBelowTheSmallestMix) {
  auto tensors = threeTensors();
  EXPECT_EQ(minimumBytes(tensors), 160u);
  auto exact = choosePrecision(tensors, 160);
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->chosen, (std::vector<size_t>{0, 0, 0}));
  auto choice = choosePrecision(tensors, 159);
  ASSERT_FALSE(choice);
  // 160 bytes for 300 weights is 4.2667 bits per weight.
  EXPECT_NE(choice.error().message.find("160 bytes (4.2667 bits per weight"),
            std::string::npos)
      << choice.error().message;
  EXPECT_NE(choice.error().message.find("159 bytes"), std::string::npos);
}

// f32 keeps every value; q8_0 rounds each to a step of max|x| / 127 in its
// block. The cost weighs each element's squared error by its column's and
// its row's weight.
TEST(QuantError, WeighsSquaredErrorsByColumnAndRow) {
  std::mt19937 random(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(2 * 64);
  for (float &v : values)
    v = normal(random);
  auto exact = quantizationCost(GgmlType::F32, values, 64, {});
  ASSERT_TRUE(exact);
  EXPECT_EQ(*exact, 0.0);

  auto uniform = quantizationCost(GgmlType::Q8_0, values, 64, {});
  ASSERT_TRUE(uniform);
  EXPECT_GT(*uniform, 0.0);
  // Each error is at most half a step; at most 128 * (max|x| / 254)^2.
  float max = 0;
  for (float v : values)
    max = std::max(max, std::abs(v));
  EXPECT_LE(*uniform, 128 * std::pow(max / 254.0, 2) * 1.0001);

  ErrorWeights columns;
  columns.columns.assign(64, 2.0);
  auto doubled = quantizationCost(GgmlType::Q8_0, values, 64, columns);
  ASSERT_TRUE(doubled);
  EXPECT_NEAR(*doubled, 2 * *uniform, 1e-12 * *uniform);

  // Only the second row counts: the cost is that row's alone.
  ErrorWeights rows;
  rows.rows = {0.0, 1.0};
  auto second = quantizationCost(GgmlType::Q8_0, values, 64, rows);
  auto alone = quantizationCost(GgmlType::Q8_0,
                                std::span<const float>(values).subspan(64), 64, {});
  ASSERT_TRUE(second && alone);
  EXPECT_DOUBLE_EQ(*second, *alone);

  EXPECT_FALSE(quantizationCost(GgmlType::Q4_K, values, 64, {}))
      << "rows of 64 are not whole q4_K blocks of 256";
}

} // namespace
} // namespace kiln
