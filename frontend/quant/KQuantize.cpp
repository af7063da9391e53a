#include "KQuantize.h"

#include "KQuantSearch.h"
#include "support/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kiln::kquant {

namespace {

using namespace blocks;

// Stores four 2-bit levels per byte: byte l of each 128-value half holds
// values l, l+32, l+64 and l+96 (q2_K and q3_K).
void packTwoBit(const uint8_t *levels, uint8_t *qs) {
  for (int half = 0; half < kQKK; half += 128)
    for (int l = 0; l < 32; ++l)
      qs[half / 4 + l] = static_cast<uint8_t>(
          levels[half + l] | (levels[half + l + 32] << 2) |
          (levels[half + l + 64] << 4) | (levels[half + l + 96] << 6));
}

// Eight 6-bit scales and eight 6-bit mins in 12 bytes: the first four of
// each whole in bytes 0-3 and 4-7, the last four split into a low nibble
// (bytes 8-11) and two high bits (the top of bytes 0-7).
void packScalesAndMins(const uint8_t *scales, const uint8_t *mins,
                       uint8_t *packed) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = scales[j];
    packed[j + 4] = mins[j];
  }
  for (int j = 4; j < 8; ++j) {
    packed[j + 4] = static_cast<uint8_t>((scales[j] & 0x0f) | (mins[j] << 4));
    packed[j - 4] |= static_cast<uint8_t>((scales[j] >> 4) << 6);
    packed[j] |= static_cast<uint8_t>((mins[j] >> 4) << 6);
  }
}

// Sixteen 6-bit values in 12 bytes (q3_K): low nibbles of values 0-7 and
// 8-15 share bytes 0-7; the high two bits of value j go to byte 8 + j%4 at
// bit 2*(j/4).
void packSixteenScales(const uint8_t *values, uint8_t *packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 16; ++j) {
    if (j < 8)
      packed[j] = values[j] & 0x0f;
    else
      packed[j - 8] |= static_cast<uint8_t>((values[j] & 0x0f) << 4);
    packed[8 + j % 4] |= static_cast<uint8_t>((values[j] >> 4) << (2 * (j / 4)));
  }
}

// The part of q4_K and q5_K that differs only in the level count: fit the
// eight 32-value sub-blocks with a scale and a minimum, quantize both to
// 6 bits against the largest of each, and requantize with the stored values.
struct ScaleMinBlock {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t levels[kQKK];
};

ScaleMinBlock encodeScaleMin(const float *x, const AsymmetricSearch &search) {
  ScaleMinBlock out{};
  // Weights: each sub-block's RMS plus each value's magnitude, so large
  // values matter more without the small ones being ignored.
  float weights[kQKK];
  for (int j = 0; j < 8; ++j) {
    const float *sub = x + 32 * j;
    float sumSquares = 0.0f;
    for (int l = 0; l < 32; ++l)
      sumSquares += sub[l] * sub[l];
    float rms = std::sqrt(sumSquares / 32.0f);
    for (int l = 0; l < 32; ++l)
      weights[32 * j + l] = rms + std::fabs(sub[l]);
  }
  float scales[8], offsets[8];
  fitAsymmetricGroups(8, 32, search, x, weights, out.levels, offsets, scales);
  float maxScale = 0.0f, maxOffset = 0.0f;
  for (int j = 0; j < 8; ++j) {
    maxScale = std::max(maxScale, scales[j]);
    maxOffset = std::max(maxOffset, offsets[j]);
  }
  float inverseScale = maxScale > 0.0f ? 63.0f / maxScale : 0.0f;
  float inverseOffset = maxOffset > 0.0f ? 63.0f / maxOffset : 0.0f;
  uint8_t scaleLevels[8], offsetLevels[8];
  for (int j = 0; j < 8; ++j) {
    // Narrowed to a byte before clamping, as the reference does.
    scaleLevels[j] = std::min<uint8_t>(
        63, static_cast<uint8_t>(roundToInt(inverseScale * scales[j])));
    offsetLevels[j] = std::min<uint8_t>(
        63, static_cast<uint8_t>(roundToInt(inverseOffset * offsets[j])));
  }
  packScalesAndMins(scaleLevels, offsetLevels, out.scales);
  out.d = floatToHalf(maxScale / 63.0f);
  out.dmin = floatToHalf(maxOffset / 63.0f);

  float d = halfToFloat(out.d), dmin = halfToFloat(out.dmin);
  for (int j = 0; j < 8; ++j) {
    float step = d * static_cast<float>(scaleLevels[j]);
    if (step == 0.0f)
      continue; // the search's levels stay
    float shift = dmin * static_cast<float>(offsetLevels[j]);
    for (int l = 0; l < 32; ++l)
      out.levels[32 * j + l] = static_cast<uint8_t>(clampInt(
          roundToInt((x[32 * j + l] + shift) / step), 0, search.nmax));
  }
  return out;
}

} // namespace

Q2_K encodeQ2_K(const float *x) {
  Q2_K b{};
  uint8_t levels[kQKK];
  const AsymmetricSearch search{3, -0.5f, 0.1f, 15, true};
  float weights[kQKK];
  for (int j = 0; j < kQKK; ++j)
    weights[j] = std::fabs(x[j]);
  float scales[16], offsets[16];
  fitAsymmetricGroups(16, 16, search, x, weights, levels, offsets, scales);
  float maxScale = 0.0f, maxOffset = 0.0f;
  for (int j = 0; j < 16; ++j) {
    maxScale = std::max(maxScale, scales[j]);
    maxOffset = std::max(maxOffset, offsets[j]);
  }
  // Sub-block scales in the low nibble, offsets in the high one, each as a
  // 4-bit multiple of the largest / 15.
  if (maxScale > 0.0f) {
    float inverse = 15.0f / maxScale;
    for (int j = 0; j < 16; ++j)
      b.scales[j] = static_cast<uint8_t>(roundToInt(inverse * scales[j]));
    b.d = floatToHalf(maxScale / 15.0f);
  } else {
    b.d = floatToHalf(0.0f);
  }
  if (maxOffset > 0.0f) {
    float inverse = 15.0f / maxOffset;
    for (int j = 0; j < 16; ++j)
      b.scales[j] |=
          static_cast<uint8_t>(roundToInt(inverse * offsets[j]) << 4);
    b.dmin = floatToHalf(maxOffset / 15.0f);
  } else {
    b.dmin = floatToHalf(0.0f);
  }
  float d = halfToFloat(b.d), dmin = halfToFloat(b.dmin);
  for (int j = 0; j < 16; ++j) {
    float step = d * static_cast<float>(b.scales[j] & 0x0f);
    if (step == 0.0f)
      continue;
    float shift = dmin * static_cast<float>(b.scales[j] >> 4);
    for (int l = 0; l < 16; ++l)
      levels[16 * j + l] = static_cast<uint8_t>(
          clampInt(roundToInt((x[16 * j + l] + shift) / step), 0, 3));
  }
  packTwoBit(levels, b.qs);
  return b;
}

Q3_K encodeQ3_K(const float *x) {
  Q3_K b{};
  int8_t levels[kQKK];
  float scales[16];
  float maxScale = 0.0f, maxMagnitude = 0.0f; // the scale of largest |.|
  for (int j = 0; j < 16; ++j) {
    scales[j] = refineSymmetric(16, 4, x + 16 * j, levels + 16 * j);
    if (std::fabs(scales[j]) > maxMagnitude) {
      maxMagnitude = std::fabs(scales[j]);
      maxScale = scales[j];
    }
  }
  // Sub-block scales as signed 6-bit multiples of the super-block scale,
  // stored with a bias of 32.
  uint8_t scaleLevels[16] = {};
  if (maxScale != 0.0f) {
    float inverse = -32.0f / maxScale;
    for (int j = 0; j < 16; ++j) {
      int8_t level = static_cast<int8_t>(roundToInt(inverse * scales[j]));
      scaleLevels[j] = static_cast<uint8_t>(clampInt(level, -32, 31) + 32);
    }
    packSixteenScales(scaleLevels, b.scales);
    b.d = floatToHalf(1.0f / inverse);
  } else {
    b.d = floatToHalf(0.0f);
  }
  float d = halfToFloat(b.d);
  for (int j = 0; j < 16; ++j) {
    float step = d * static_cast<float>(static_cast<int>(scaleLevels[j]) - 32);
    if (step == 0.0f)
      continue;
    for (int l = 0; l < 16; ++l)
      levels[16 * j + l] = static_cast<int8_t>(
          clampInt(roundToInt(x[16 * j + l] / step), -4, 3) + 4);
  }
  // The third bit of value j goes to hmask[j % 32], bit j / 32; the low two
  // bits are packed like q2_K.
  uint8_t low[kQKK];
  for (int j = 0; j < kQKK; ++j) {
    int level = levels[j];
    if (level > 3) {
      b.hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
      level -= 4;
    }
    low[j] = static_cast<uint8_t>(level);
  }
  packTwoBit(low, b.qs);
  return b;
}

Q4_K encodeQ4_K(const float *x) {
  ScaleMinBlock fit = encodeScaleMin(x, {15, -1.0f, 0.1f, 20, false});
  Q4_K b{};
  b.d = fit.d;
  b.dmin = fit.dmin;
  std::memcpy(b.scales, fit.scales, sizeof b.scales);
  // Each 64 values fill 32 bytes: the first 32 in low nibbles.
  for (int chunk = 0; chunk < kQKK / 64; ++chunk)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * chunk + l] = static_cast<uint8_t>(
          fit.levels[64 * chunk + l] | (fit.levels[64 * chunk + l + 32] << 4));
  return b;
}

Q5_K encodeQ5_K(const float *x) {
  ScaleMinBlock fit = encodeScaleMin(x, {31, -0.5f, 0.1f, 15, false});
  Q5_K b{};
  b.d = fit.d;
  b.dmin = fit.dmin;
  std::memcpy(b.scales, fit.scales, sizeof b.scales);
  // Low nibbles as q4_K; the fifth bit of chunk c's two halves goes to
  // qh[l], bits 2c and 2c+1.
  for (int chunk = 0; chunk < kQKK / 64; ++chunk)
    for (int l = 0; l < 32; ++l) {
      uint8_t first = fit.levels[64 * chunk + l];
      uint8_t second = fit.levels[64 * chunk + l + 32];
      b.qs[32 * chunk + l] =
          static_cast<uint8_t>((first & 0x0f) | ((second & 0x0f) << 4));
      b.qh[l] |= static_cast<uint8_t>(((first >> 4) << (2 * chunk)) |
                                      ((second >> 4) << (2 * chunk + 1)));
    }
  return b;
}

Q6_K encodeQ6_K(const float *x) {
  Q6_K b{};
  int8_t levels[kQKK];
  float scales[16];
  float maxScale = 0.0f, maxMagnitude = 0.0f;
  fitSymmetricGroups(16, 16, 32, x, levels, scales);
  for (int j = 0; j < 16; ++j) {
    if (std::fabs(scales[j]) > maxMagnitude) {
      maxMagnitude = std::fabs(scales[j]);
      maxScale = scales[j];
    }
  }
  if (maxMagnitude < kNegligible)
    return b; // all zero, d = +0
  // Sub-block scales as signed 8-bit multiples of the super-block scale.
  float inverse = -128.0f / maxScale;
  b.d = floatToHalf(1.0f / inverse);
  for (int j = 0; j < 16; ++j)
    b.scales[j] =
        static_cast<int8_t>(std::min(127, roundToInt(inverse * scales[j])));
  float d = halfToFloat(b.d);
  for (int j = 0; j < 16; ++j) {
    float step = d * static_cast<float>(b.scales[j]);
    if (step == 0.0f)
      continue;
    for (int l = 0; l < 16; ++l)
      levels[16 * j + l] = static_cast<int8_t>(
          clampInt(roundToInt(x[16 * j + l] / step), -32, 31) + 32);
  }
  // Per 128 values: low nibbles of values l and l+64 share ql[l], of l+32
  // and l+96 share ql[l+32]; the high two bits of all four share qh[l].
  for (int half = 0; half < 2; ++half) {
    const int8_t *q = levels + 128 * half;
    uint8_t *ql = b.ql + 64 * half;
    uint8_t *qh = b.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((q[l] & 0x0f) | ((q[l + 64] & 0x0f) << 4));
      ql[l + 32] =
          static_cast<uint8_t>((q[l + 32] & 0x0f) | ((q[l + 96] & 0x0f) << 4));
      qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) |
                                   ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
    }
  }
  return b;
}

} // namespace kiln::kquant
