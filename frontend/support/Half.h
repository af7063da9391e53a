// Scalar conversions between float and the 16-bit float formats stored in
// GGUF files (IEEE binary16 and bfloat16). They are the reference used to
// check generated kernels, so they favour clarity over speed.
#pragma once

#include <bit>
#include <cstdint>

namespace kiln {

inline float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) // infinity or NaN, payload kept
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) |
                              (mantissa << 13));
}

// Rounds to nearest, ties to even; overflow gives infinity, NaN stays NaN.
inline uint16_t floatToHalf(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) // infinity or NaN
    return sign | (magnitude > 0x7f800000 ? 0x7e00 : 0x7c00);

  int32_t exponent = static_cast<int32_t>(magnitude >> 23) - 127 + 15;
  if (exponent >= 31)
    return sign | 0x7c00;

  auto roundShifted = [](uint32_t bitsIn, uint32_t shift) {
    uint32_t kept = bitsIn >> shift;
    uint32_t rest = bitsIn & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (kept & 1)))
      ++kept; // a carry into the exponent field is the right answer
    return kept;
  };

  if (exponent <= 0) { // subnormal half, or zero
    if (exponent < -10)
      return sign;
    uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
    return sign | static_cast<uint16_t>(
                      roundShifted(significand, static_cast<uint32_t>(14 - exponent)));
  }
  uint32_t truncated = (static_cast<uint32_t>(exponent) << 23) |
                       (magnitude & 0x7fffff); // rebias, then drop 13 bits
  return sign | static_cast<uint16_t>(roundShifted(truncated, 13));
}

inline float bf16ToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Rounds to nearest, ties to even; NaN is kept and made quiet.
inline uint16_t floatToBf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t roundingBias = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

} // namespace kiln
