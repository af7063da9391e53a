#include "support/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <immintrin.h>
#include <random>

namespace kiln {
namespace {

// The hardware conversion (F16C, round to nearest even) is what ggml uses on
// x86, so it is the reference our scalar code must match bit for bit.
__attribute__((target("f16c"))) uint16_t hardwareFloatToHalf(float x) {
  return static_cast<uint16_t>(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hardwareHalfToFloat(uint16_t h) {
  return _cvtsh_ss(h);
}

TEST(Half, EveryHalfConvertsToFloatAsHardwareDoes) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c")) << "this test needs F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = halfToFloat(static_cast<uint16_t>(h));
    float theirs = hardwareHalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(theirs)) {
      EXPECT_TRUE(std::isnan(ours)) << h;
      continue;
    }
    ASSERT_EQ(std::bit_cast<uint32_t>(ours), std::bit_cast<uint32_t>(theirs))
        << "half bits " << h;
    // And back again, exactly.
    ASSERT_EQ(floatToHalf(ours), h);
  }
}

TEST(Half, FloatToHalfRoundsAsHardwareDoes) {
  ASSERT_TRUE(__builtin_cpu_supports("f16c")) << "this test needs F16C";
  std::mt19937 rng(42);
  // Random bit patterns cover every exponent, including the subnormal and
  // overflow ranges, and every rounding case.
  for (int i = 0; i < 2000000; ++i) {
    float x = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(x))
      continue;
    ASSERT_EQ(floatToHalf(x), hardwareFloatToHalf(x)) << x;
  }
  // Ties at the edges: the largest finite half and beyond.
  for (float x : {65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98023224e-8f,
                  5.96046448e-8f, -0.0f, 0.0f})
    EXPECT_EQ(floatToHalf(x), hardwareFloatToHalf(x)) << x;
}

TEST(Half, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between two bf16 values: ties to even (down).
  EXPECT_EQ(floatToBf16(1.00390625f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway: ties to even (up).
  EXPECT_EQ(floatToBf16(1.01171875f), 0x3f82);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  uint16_t nan = floatToBf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16ToFloat(nan)));
  for (uint32_t b = 0; b < 65536; ++b) {
    float x = bf16ToFloat(static_cast<uint16_t>(b));
    if (!std::isnan(x))
      ASSERT_EQ(floatToBf16(x), b);
  }
}

} // namespace
} // namespace kiln
