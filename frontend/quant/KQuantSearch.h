// The scale searches behind the K-quant encoders. Each fits a group of 16 or
// 32 values with integer levels and one scale (or a scale and a minimum),
// trying a fixed set of candidates and keeping the best weighted fit. They
// reproduce ggml's reference searches exactly: same candidates, same order of
// float operations (this file is built with -ffp-contract=off), same ties.
#pragma once

#include <cstdint>
#include <cstring>

namespace kiln::kquant {

// Values whose largest magnitude is below this are treated as all zero.
inline constexpr float kNegligible = 1e-15f;

// Round to nearest, ties to even, by adding 1.5 * 2^23: the float addition
// rounds the fraction away and the integer is left in the low mantissa bits.
// ggml rounds this way, which differs from lround on ties. |x| < 2^22.
inline int roundToInt(float x) {
  float shifted = x + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

inline int clampInt(int value, int lo, int hi) {
  return value < lo ? lo : value > hi ? hi : value;
}

// Symmetric levels x ≈ scale * (q - nmax), q in [0, 2 nmax), weighted by x²,
// for each of `groups` groups of n values (group g at x + g*n). Starts from
// the scale that sends the largest magnitude to -nmax, then tries the 18
// nudged scales -(nmax ± 0.1 k) / max and keeps the one whose least-squares
// fit explains most of the weighted signal. Writes q to `levels` (same
// layout) and the least-squares scale to scales[g] (0 for an all-zero group,
// with every level 0). (groups, n) is (16, 16), the shape of q6_K.
void fitSymmetricGroups(int groups, int n, int nmax, const float *x,
                        int8_t *levels, float *scales);

// Symmetric levels for q3_K: from the plain rounding, moves one value at a
// time to the level the least-squares scale of the others suggests, as long
// as that improves the fit (at most 5 sweeps). Levels as above.
float refineSymmetric(int n, int nmax, const float *x, int8_t *levels);

// Parameters of the asymmetric search (x ≈ scale * q - offset, q in [0,nmax]).
struct AsymmetricSearch {
  int nmax;
  float firstStep; // candidate k uses (nmax + firstStep + stepSize * k)/range
  float stepSize;
  int steps; // candidates k = 0..steps
  bool absoluteError; // weigh |error| (else error²)
};

// Fits each of `groups` groups of n values (group g at x + g*n) with
// x ≈ scale * q + minimum, minimum <= 0, weighted by `weights` (same
// layout). The plain min/max fit is the baseline; each candidate inverse
// scale gives levels from which scale and minimum are solved by weighted
// least squares, and a candidate with a smaller weighted error than the best
// so far replaces it (its minimum then shifts the later candidates' levels).
// Writes q to `levels` (same layout), -minimum to offsets[g], the scale to
// scales[g]; a group whose values are all equal gets scale 0 and levels 0.
// (groups, n) is (8, 32) or (16, 16), the shapes of q4_K/q5_K and q2_K.
void fitAsymmetricGroups(int groups, int n, const AsymmetricSearch &search,
                         const float *x, const float *weights,
                         uint8_t *levels, float *offsets, float *scales);

} // namespace kiln::kquant
