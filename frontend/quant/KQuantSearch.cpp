#include "KQuantSearch.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace kiln::kquant {

namespace {

constexpr int kMaxGroup = 32;  // the largest group a K-quant searches
constexpr int kMaxGroups = 16; // the most groups in one super-block

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

namespace {

// The symmetric search for a whole super-block: its groups run in lockstep, one lane
// per group, each lane's sums still in element order (as for the asymmetric
// search below).
template <int groups, int n>
void fitSymmetricInLockstep(int nmax, const float *x, int8_t *levels,
                            float *scales) {
  constexpr int G = groups;
  float xs[n][G];
  for (int g = 0; g < groups; ++g)
    for (int i = 0; i < n; ++i)
      xs[i][g] = x[g * n + i];
  float max[G];
  bool zero[G];
  for (int g = 0; g < groups; ++g) {
    float magnitude;
    max[g] = signedAbsMax(n, x + g * n, magnitude);
    zero[g] = magnitude < kNegligible;
    if (zero[g])
      max[g] = 1.0f; // ignored; keeps the arithmetic finite
  }
  // int, not int8_t: a char store may alias the floats, which would keep
  // the compiler from vectorizing.
  int trial[n][G], best[n][G];
  float inverse[G], sumXL[G], sumLL[G];
  auto fitTrial = [&] {
    for (int i = 0; i < n; ++i)
      for (int g = 0; g < groups; ++g)
        trial[i][g] = symmetricLevel(inverse[g], xs[i][g], nmax);
    for (int g = 0; g < groups; ++g)
      sumXL[g] = sumLL[g] = 0.0f;
    for (int i = 0; i < n; ++i)
      for (int g = 0; g < groups; ++g) {
        float v = xs[i][g], w = v * v;
        float l = static_cast<float>(trial[i][g]);
        sumXL[g] += w * v * l;
        sumLL[g] += w * l * l;
      }
  };
  for (int g = 0; g < groups; ++g)
    inverse[g] = static_cast<float>(-nmax) / max[g];
  fitTrial();
  float bestFit[G];
  for (int g = 0; g < groups; ++g) {
    scales[g] = sumLL[g] != 0.0f ? sumXL[g] / sumLL[g] : 0.0f;
    // A fit explains Σ(wxl)²/Σwl² of the signal; compare without dividing.
    bestFit[g] = scales[g] * sumXL[g];
  }
  std::memcpy(best, trial, sizeof best);
  for (int k = -9; k <= 9; ++k) {
    if (k == 0)
      continue;
    for (int g = 0; g < groups; ++g)
      inverse[g] =
          -(static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / max[g];
    fitTrial();
    for (int g = 0; g < groups; ++g) {
      if (!(sumLL[g] > 0.0f && sumXL[g] * sumXL[g] > bestFit[g] * sumLL[g]))
        continue;
      for (int i = 0; i < n; ++i)
        best[i][g] = trial[i][g];
      scales[g] = sumXL[g] / sumLL[g];
      bestFit[g] = scales[g] * sumXL[g];
    }
  }
  for (int g = 0; g < groups; ++g) {
    if (zero[g])
      scales[g] = 0.0f;
    for (int i = 0; i < n; ++i)
      levels[g * n + i] =
          zero[g] ? 0 : static_cast<int8_t>(best[i][g] + nmax);
  }
}

} // namespace

void fitSymmetricGroups(int groups, int n, int nmax, const float *x,
                        int8_t *levels, float *scales) {
  if (groups == 16 && n == 16) // q6_K
    fitSymmetricInLockstep<16, 16>(nmax, x, levels, scales);
  else
    std::abort(); // no other K-quant shape uses this search
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

namespace {

// Sizes fixed at compile time, so the lane loops have no remainder.
template <int groups, int n>
void fitGroupsInLockstep(const AsymmetricSearch &search, const float *x,
                         const float *weights, uint8_t *levels,
                         float *offsets, float *scales) {
  // The groups' searches are independent, so they run in lockstep, one lane
  // per group: every sum still adds its terms in element order (the
  // reference's rounding), but the inner loops over lanes have no chain of
  // additions to wait on and vectorize. Data is transposed to [element][lane].
  constexpr int G = kMaxGroups; // 16 lanes measured faster than 8 for q4_K
  const int nmax = search.nmax;
  float xs[kMaxGroup][G], ws[kMaxGroup][G];
  for (int g = 0; g < groups; ++g)
    for (int i = 0; i < n; ++i) {
      xs[i][g] = x[g * n + i];
      ws[i][g] = weights[g * n + i];
    }
  float min[G], max[G], sumW[G], sumX[G];
  bool flat[G]; // all values equal (after clamping the minimum to <= 0)
  for (int g = 0; g < groups; ++g) {
    min[g] = max[g] = xs[0][g];
    sumW[g] = ws[0][g];
    sumX[g] = sumW[g] * xs[0][g];
  }
  for (int i = 1; i < n; ++i)
    for (int g = 0; g < groups; ++g) {
      if (xs[i][g] < min[g])
        min[g] = xs[i][g];
      if (xs[i][g] > max[g])
        max[g] = xs[i][g];
      sumW[g] += ws[i][g];
      sumX[g] += ws[i][g] * xs[i][g];
    }
  for (int g = 0; g < groups; ++g) {
    if (min[g] > 0.0f) // the minimum is an offset subtracted, never added
      min[g] = 0.0f;
    flat[g] = max[g] == min[g];
  }
  // The range at the current minimum (a better fit moves it); flat lanes
  // are ignored, 1 keeps their arithmetic finite.
  auto range = [&](int g) { return flat[g] ? 1.0f : max[g] - min[g]; };

  int best[kMaxGroup][G], trial[kMaxGroup][G]; // int: see above
  float inverse[G], error[G], bestError[G];
  auto levelsFor = [&](int (*q)[G]) {
    for (int i = 0; i < n; ++i)
      for (int g = 0; g < groups; ++g)
        q[i][g] =
            clampInt(roundToInt(inverse[g] * (xs[i][g] - min[g])), 0, nmax);
  };
  auto errorsOf = [&](const float *scale, const float *minimum,
                      int (*q)[G]) {
    for (int g = 0; g < groups; ++g)
      error[g] = 0.0f;
    for (int i = 0; i < n; ++i)
      for (int g = 0; g < groups; ++g) {
        float diff = scale[g] * static_cast<float>(q[i][g]) + minimum[g] -
                     xs[i][g];
        diff = search.absoluteError ? std::fabs(diff) : diff * diff;
        error[g] += ws[i][g] * diff;
      }
  };

  for (int g = 0; g < groups; ++g) {
    inverse[g] = static_cast<float>(nmax) / range(g);
    scales[g] = 1.0f / inverse[g];
  }
  levelsFor(best);
  errorsOf(scales, min, best);
  for (int g = 0; g < groups; ++g)
    bestError[g] = error[g];

  for (int k = 0; search.steps >= 1 && k <= search.steps; ++k) {
    for (int g = 0; g < groups; ++g)
      inverse[g] = (search.firstStep + search.stepSize * static_cast<float>(k) +
                    static_cast<float>(nmax)) /
                   range(g);
    levelsFor(trial);
    float sumL[G] = {}, sumLL[G] = {}, sumXL[G] = {};
    for (int i = 0; i < n; ++i)
      for (int g = 0; g < groups; ++g) {
        float l = static_cast<float>(trial[i][g]);
        float w = ws[i][g];
        sumL[g] += w * l;
        sumLL[g] += w * l * l;
        sumXL[g] += w * l * xs[i][g];
      }
    // Weighted least squares for x ≈ scale * l + minimum.
    float trialScale[G], trialMin[G];
    bool valid[G];
    for (int g = 0; g < groups; ++g) {
      float det = sumW[g] * sumLL[g] - sumL[g] * sumL[g];
      valid[g] = !flat[g] && det > 0.0f;
      if (!valid[g]) {
        trialScale[g] = trialMin[g] = 0.0f;
        continue;
      }
      trialScale[g] = (sumW[g] * sumXL[g] - sumX[g] * sumL[g]) / det;
      trialMin[g] = (sumLL[g] * sumX[g] - sumL[g] * sumXL[g]) / det;
      if (trialMin[g] > 0.0f) {
        trialMin[g] = 0.0f;
        trialScale[g] = sumXL[g] / sumLL[g];
      }
    }
    errorsOf(trialScale, trialMin, trial);
    for (int g = 0; g < groups; ++g) {
      if (!valid[g] || !(error[g] < bestError[g]))
        continue;
      for (int i = 0; i < n; ++i)
        best[i][g] = trial[i][g];
      bestError[g] = error[g];
      scales[g] = trialScale[g];
      min[g] = trialMin[g];
    }
  }

  for (int g = 0; g < groups; ++g) {
    if (flat[g])
      scales[g] = 0.0f;
    offsets[g] = -min[g];
    for (int i = 0; i < n; ++i)
      levels[g * n + i] = flat[g] ? 0 : static_cast<uint8_t>(best[i][g]);
  }
}

} // namespace

void fitAsymmetricGroups(int groups, int n, const AsymmetricSearch &search,
                         const float *x, const float *weights,
                         uint8_t *levels, float *offsets, float *scales) {
  if (groups == 8 && n == 32) // q4_K, q5_K
    fitGroupsInLockstep<8, 32>(search, x, weights, levels, offsets, scales);
  else if (groups == 16 && n == 16) // q2_K
    fitGroupsInLockstep<16, 16>(search, x, weights, levels, offsets, scales);
  else
    std::abort(); // no other K-quant shape exists
}

} // namespace kiln::kquant
