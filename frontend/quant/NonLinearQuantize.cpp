#include "NonLinearQuantize.h"

#include "KQuantSearch.h"
#include "support/Half.h"

#include <cmath>

namespace kiln::kquant {

namespace {

using namespace blocks;

constexpr int kLevels = 16;
// How far the candidate scales reach on each side of the first guess.
constexpr int kTries = 7;

// The index of the table level nearest to v (the upper one on ties), found
// by bisection as ggml does, so that ties and NaN go the same way.
int nearestLevel(float v) {
  const int8_t *levels = kIq4NlLevels;
  if (v <= levels[0])
    return 0;
  if (v >= levels[kLevels - 1])
    return kLevels - 1;
  int lo = 0, hi = kLevels - 1;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (v < levels[mid])
      hi = mid;
    else
      lo = mid;
  }
  return v - levels[hi - 1] < levels[hi] - v ? hi - 1 : hi;
}

// Σ w q x and Σ w q² of the levels that inverse scale picks, w = x².
struct LevelFit {
  float sumQX = 0.0f, sumQQ = 0.0f;
};
LevelFit fitLevels(const float *x, float inverse, uint8_t *indices) {
  LevelFit fit;
  for (int j = 0; j < kQK; ++j) {
    int index = nearestLevel(inverse * x[j]);
    if (indices)
      indices[j] = static_cast<uint8_t>(index);
    float q = kIq4NlLevels[index];
    float w = x[j] * x[j];
    fit.sumQX += w * q * x[j];
    fit.sumQQ += w * q * q;
  }
  return fit;
}

} // namespace

IQ4_NL encodeIQ4_NL(const float *x) {
  IQ4_NL b{};
  float magnitude = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK; ++j)
    if (std::fabs(x[j]) > magnitude) {
      magnitude = std::fabs(x[j]);
      max = x[j];
    }
  float scale = 0.0f;
  if (!(magnitude < kNegligible)) {
    // First guess: the largest magnitude on the most negative level; then
    // least squares, and the inverse scales (level₀ + k)/max, |k| <= 7.
    float guess = -max / static_cast<float>(kIq4NlLevels[0]);
    LevelFit fit = fitLevels(x, 1.0f / guess, nullptr);
    scale = fit.sumQX / fit.sumQQ;
    float best = scale * fit.sumQX;
    for (int k = -kTries; k <= kTries; ++k) {
      float inverse = static_cast<float>(k + kIq4NlLevels[0]) / max;
      LevelFit candidate = fitLevels(x, inverse, nullptr);
      if (candidate.sumQQ > 0.0f &&
          candidate.sumQX * candidate.sumQX > best * candidate.sumQQ) {
        scale = candidate.sumQX / candidate.sumQQ;
        best = scale * candidate.sumQX;
      }
    }
  }
  b.d = floatToHalf(scale);
  // The indices for the chosen scale, before its rounding to f16.
  uint8_t indices[kQK];
  fitLevels(x, scale != 0.0f ? 1.0f / scale : 0.0f, indices);
  for (int j = 0; j < kQK / 2; ++j)
    b.qs[j] = static_cast<uint8_t>(indices[j] | (indices[j + kQK / 2] << 4));
  return b;
}

} // namespace kiln::kquant
