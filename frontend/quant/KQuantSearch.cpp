#include "KQuantSearch.h"

#include <cmath>

namespace kiln::kquant {

namespace {

constexpr int kMaxGroup = 32; // the largest group a K-quant searches

// The element of largest magnitude, sign kept (the first one on ties).
float signedAbsMax(int n, const float *x, float &magnitude) {
  float best = 0.0f;
  magnitude = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > magnitude) {
      magnitude = std::fabs(x[i]);
      best = x[i];
    }
  return best;
}

// Weighted sums of a symmetric fit: Σ w x l and Σ w l², with w = x².
struct Fit {
  float sumXL = 0.0f, sumLL = 0.0f;
  void add(float x, int level) {
    float w = x * x;
    sumXL += w * x * static_cast<float>(level);
    sumLL += w * static_cast<float>(level) * static_cast<float>(level);
  }
};

int symmetricLevel(float inverseScale, float x, int nmax) {
  return clampInt(roundToInt(inverseScale * x), -nmax, nmax - 1);
}

} // namespace

float fitSymmetric(int n, int nmax, const float *x, int8_t *levels) {
  float magnitude;
  float max = signedAbsMax(n, x, magnitude);
  if (magnitude < kNegligible) {
    for (int i = 0; i < n; ++i)
      levels[i] = 0;
    return 0.0f;
  }
  // Levels first, in a loop of their own that the compiler vectorizes; the
  // sums after it keep the reference's order of additions.
  int8_t candidate[kMaxGroup];
  auto fitFor = [&](float inverse) {
    for (int i = 0; i < n; ++i)
      candidate[i] = static_cast<int8_t>(symmetricLevel(inverse, x[i], nmax));
    Fit fit;
    for (int i = 0; i < n; ++i)
      fit.add(x[i], candidate[i]);
    return fit;
  };
  auto keepCandidate = [&] {
    for (int i = 0; i < n; ++i)
      levels[i] = static_cast<int8_t>(candidate[i] + nmax);
  };
  Fit fit = fitFor(static_cast<float>(-nmax) / max);
  keepCandidate();
  float scale = fit.sumLL != 0.0f ? fit.sumXL / fit.sumLL : 0.0f;
  // A fit explains Σ(wxl)²/Σwl² of the signal; compare without dividing.
  float best = scale * fit.sumXL;
  for (int k = -9; k <= 9; ++k) {
    if (k == 0)
      continue;
    float inverse =
        -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max;
    Fit next = fitFor(inverse);
    if (next.sumLL > 0.0f && next.sumXL * next.sumXL > best * next.sumLL) {
      keepCandidate();
      scale = next.sumXL / next.sumLL;
      best = scale * next.sumXL;
    }
  }
  return scale;
}

float refineSymmetric(int n, int nmax, const float *x, int8_t *levels) {
  float magnitude;
  float max = signedAbsMax(n, x, magnitude);
  if (magnitude < kNegligible) {
    for (int i = 0; i < n; ++i)
      levels[i] = 0;
    return 0.0f;
  }
  float inverse = static_cast<float>(-nmax) / max;
  Fit fit;
  for (int i = 0; i < n; ++i) {
    int level = symmetricLevel(inverse, x[i], nmax);
    levels[i] = static_cast<int8_t>(level);
    fit.add(x[i], level);
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      float old = static_cast<float>(levels[i]);
      // The fit without element i, and the level its scale suggests.
      float sumXL = fit.sumXL - w * x[i] * old;
      if (!(sumXL > 0.0f))
        continue;
      float sumLL = fit.sumLL - w * old * old;
      int level = clampInt(roundToInt(x[i] * sumLL / sumXL), -nmax, nmax - 1);
      if (level == levels[i])
        continue;
      float l = static_cast<float>(level);
      sumXL += w * x[i] * l;
      sumLL += w * l * l;
      // Better when (Σwxl)²/Σwl² grows.
      if (sumLL > 0.0f &&
          sumXL * sumXL * fit.sumLL > fit.sumXL * fit.sumXL * sumLL) {
        levels[i] = static_cast<int8_t>(level);
        fit.sumXL = sumXL;
        fit.sumLL = sumLL;
        changed = true;
      }
    }
    if (!changed)
      break;
  }
  for (int i = 0; i < n; ++i)
    levels[i] = static_cast<int8_t>(levels[i] + nmax);
  return fit.sumXL / fit.sumLL;
}

float fitAsymmetric(int n, const AsymmetricSearch &search, const float *x,
                    const float *weights, uint8_t *levels, float *offset,
                    uint8_t *scratch) {
  const int nmax = search.nmax;
  float min = x[0], max = x[0];
  float sumW = weights[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    sumW += weights[i];
    sumX += weights[i] * x[i];
  }
  if (min > 0.0f) // the minimum is an offset subtracted, never added
    min = 0.0f;
  if (max == min) {
    for (int i = 0; i < n; ++i)
      levels[i] = 0;
    *offset = -min;
    return 0.0f;
  }
  auto errorOf = [&](float scale, float minimum, const uint8_t *q) {
    float total = 0.0f;
    for (int i = 0; i < n; ++i) {
      float diff = scale * static_cast<float>(q[i]) + minimum - x[i];
      diff = search.absoluteError ? std::fabs(diff) : diff * diff;
      total += weights[i] * diff;
    }
    return total;
  };
  auto levelsFor = [&](float inverse, uint8_t *q) {
    for (int i = 0; i < n; ++i)
      q[i] = static_cast<uint8_t>(
          clampInt(roundToInt(inverse * (x[i] - min)), 0, nmax));
  };

  float inverse = static_cast<float>(nmax) / (max - min);
  float scale = 1.0f / inverse;
  levelsFor(inverse, levels);
  float bestError = errorOf(scale, min, levels);
  if (search.steps < 1) {
    *offset = -min;
    return scale;
  }
  for (int k = 0; k <= search.steps; ++k) {
    inverse = (search.firstStep + search.stepSize * static_cast<float>(k) +
               static_cast<float>(nmax)) /
              (max - min);
    levelsFor(inverse, scratch);
    float sumL = 0.0f, sumLL = 0.0f, sumXL = 0.0f;
    for (int i = 0; i < n; ++i) {
      float l = static_cast<float>(scratch[i]);
      float w = weights[i];
      sumL += w * l;
      sumLL += w * l * l;
      sumXL += w * l * x[i];
    }
    // Weighted least squares for x ≈ scale * l + minimum.
    float det = sumW * sumLL - sumL * sumL;
    if (!(det > 0.0f))
      continue;
    float candidateScale = (sumW * sumXL - sumX * sumL) / det;
    float candidateMin = (sumLL * sumX - sumL * sumXL) / det;
    if (candidateMin > 0.0f) {
      candidateMin = 0.0f;
      candidateScale = sumXL / sumLL;
    }
    float error = errorOf(candidateScale, candidateMin, scratch);
    if (error < bestError) {
      std::memcpy(levels, scratch, static_cast<size_t>(n));
      bestError = error;
      scale = candidateScale;
      min = candidateMin;
    }
  }
  *offset = -min;
  return scale;
}

} // namespace kiln::kquant
