// runtime/WeightLayout: the q4_0x8 repack puts each byte where the CPU's
// eight-column kernel reads it, and refuses shapes it cannot hold.
#include "runtime/WeightLayout.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace kiln::runtime {
namespace {

// A q4_0 weight whose every byte names its row, block and position.
std::vector<uint8_t> numberedQ4_0(int64_t rows, int64_t blocks) {
  std::vector<uint8_t> bytes(size_t(rows * blocks * 18));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < blocks; ++j)
      for (int64_t i = 0; i < 18; ++i)
        bytes[size_t((r * blocks + j) * 18 + i)] = uint8_t(r * 31 + j * 7 + i);
  return bytes;
}

TEST(WeightLayout, Q4_0x8InterleavesEightRowsPerBlock) {
  const int64_t rows = 16, blocks = 3;
  std::vector<uint8_t> gguf = numberedQ4_0(rows, blocks);
  auto packed = repackWeight(WeightLayout::Q4_0x8, gguf, rows, blocks * 32);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  for (int64_t g = 0; g < rows / 8; ++g)
    for (int64_t j = 0; j < blocks; ++j) {
      const uint8_t *record = packed->data() + (g * blocks + j) * 144;
      for (int64_t c = 0; c < 8; ++c) {
        const uint8_t *block = gguf.data() + ((g * 8 + c) * blocks + j) * 18;
        EXPECT_EQ(record[2 * c], block[0]) << g << " " << j << " " << c;
        EXPECT_EQ(record[2 * c + 1], block[1]);
        for (int i = 0; i < 16; ++i)
          EXPECT_EQ(record[16 + 16 * c + i], block[2 + i]);
      }
    }
}

TEST(WeightLayout, Q4_0x8RefusesShapesItCannotHold) {
  std::vector<uint8_t> gguf = numberedQ4_0(12, 2);
  auto rows = repackWeight(WeightLayout::Q4_0x8, gguf, 12, 64);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.error().message.find("multiple of 8"), std::string::npos)
      << rows.error().message;
  std::vector<uint8_t> short16 = numberedQ4_0(16, 2);
  short16.pop_back();
  auto size = repackWeight(WeightLayout::Q4_0x8, short16, 16, 64);
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message.find("expected"), std::string::npos) << size.error().message;
}

TEST(WeightLayout, GgufIsTheFileBytes) {
  std::vector<uint8_t> gguf = numberedQ4_0(8, 1);
  auto same = repackWeight(WeightLayout::Gguf, gguf, 8, 32);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, gguf);
  EXPECT_EQ(weightLayoutName(WeightLayout::Q4_0x8), "q4_0x8");
}

} // namespace
} // namespace kiln::runtime
