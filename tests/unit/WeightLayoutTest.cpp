// runtime/WeightLayout: the q4_0x8, rows4, pairs32 and sixteen-row repacks put
// each byte where the CPU's kernels read it, and refuse shapes they cannot
// hold.
#include "runtime/WeightLayout.h"

#include "quant/Dequantize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
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
  auto packed = repackWeight(WeightLayout::Q4_0x8, GgmlType::Q4_0, gguf, rows, blocks * 32);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  for (int64_t g = 0; g < rows / 8; ++g)
    for (int64_t j = 0; j < blocks; ++j) {
      const uint8_t *record = packed->data() + (g * blocks + j) * 144;
      for (int64_t c = 0; c < 8; ++c) {
        const uint8_t *block = gguf.data() + ((g * 8 + c) * blocks + j) * 18;
        EXPECT_EQ(record[2 * c], block[0]) << g << " " << j << " " << c;
        EXPECT_EQ(record[2 * c + 1], block[1]);
        for (int i = 0; i < 16; ++i) // chunk i/4, row c's four bytes
          EXPECT_EQ(record[16 + 32 * (i / 4) + 4 * c + i % 4], block[2 + i]);
      }
    }
}

TEST(WeightLayout, Q4_0x8RefusesShapesItCannotHold) {
  std::vector<uint8_t> gguf = numberedQ4_0(12, 2);
  auto rows = repackWeight(WeightLayout::Q4_0x8, GgmlType::Q4_0, gguf, 12, 64);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.error().message.find("multiple of 8"), std::string::npos)
      << rows.error().message;
  std::vector<uint8_t> short16 = numberedQ4_0(16, 2);
  short16.pop_back();
  auto size = repackWeight(WeightLayout::Q4_0x8, GgmlType::Q4_0, short16, 16, 64);
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message.find("expected"), std::string::npos) << size.error().message;
}

TEST(WeightLayout, GgufIsTheFileBytes) {
  std::vector<uint8_t> gguf = numberedQ4_0(8, 1);
  auto same = repackWeight(WeightLayout::Gguf, GgmlType::Q4_0, gguf, 8, 32);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(std::equal(same->begin(), same->end(), gguf.begin(), gguf.end()));
  EXPECT_EQ(weightLayoutName(WeightLayout::Q4_0x8), "q4_0x8");
}

} // namespace
} // namespace kiln::runtime

namespace kiln::runtime {
namespace {

TEST(WeightLayout, Rows4InterleavesFourRowsBlockByBlock) {
  // q8_0: 34-byte blocks; 8 rows of 3 blocks.
  const int64_t rows = 8, blocks = 3, bb = 34;
  std::vector<uint8_t> gguf(size_t(rows * blocks * bb));
  for (size_t i = 0; i < gguf.size(); ++i)
    gguf[i] = uint8_t(i * 13 + i / 251);
  auto packed = repackWeight(WeightLayout::Rows4, GgmlType::Q8_0, gguf, rows, blocks * 32);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  // Row n's block j where the CPU kernels look for it.
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t j = 0; j < blocks; ++j)
      for (int64_t i = 0; i < bb; ++i)
        EXPECT_EQ((*packed)[size_t((n / 4) * 4 * blocks * bb + (j * 4 + n % 4) * bb + i)],
                  gguf[size_t((n * blocks + j) * bb + i)])
            << n << " " << j << " " << i;
  auto odd = repackWeight(WeightLayout::Rows4, GgmlType::Q8_0,
                          std::span<const uint8_t>(gguf.data(), size_t(6 * blocks * bb)), 6,
                          blocks * 32);
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("multiple of 4"), std::string::npos);
  auto wrongType = repackWeight(WeightLayout::Q4_0x8, GgmlType::Q8_0, gguf, rows, blocks * 32);
  ASSERT_FALSE(wrongType.ok());
  EXPECT_NE(wrongType.error().message.find("not q4_0"), std::string::npos);
}

} // namespace
} // namespace kiln::runtime

namespace kiln::runtime {
namespace {

TEST(WeightLayout, Pairs32InterleavesRowPairsInRunsOf32) {
  const int64_t rows = 4, cols = 64; // f16: 2 bytes an element
  std::vector<uint8_t> gguf(size_t(rows * cols * 2));
  for (size_t i = 0; i < gguf.size(); ++i)
    gguf[i] = uint8_t(i * 7 + i / 256);
  auto packed = repackWeight(WeightLayout::Pairs32, GgmlType::F16, gguf, rows, cols);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) {
      int64_t at = (n / 2) * 2 * cols + (k / 32) * 64 + (n % 2) * 32 + k % 32;
      for (int byte = 0; byte < 2; ++byte)
        EXPECT_EQ((*packed)[size_t(at * 2 + byte)], gguf[size_t((n * cols + k) * 2 + byte)])
            << n << " " << k;
    }
  auto quantized = repackWeight(WeightLayout::Pairs32, GgmlType::Q8_0, gguf, rows, cols);
  ASSERT_FALSE(quantized.ok());
  auto ragged = repackWeight(WeightLayout::Pairs32, GgmlType::F16,
                             std::span<const uint8_t>(gguf.data(), size_t(4 * 48 * 2)), 4, 48);
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("multiple of 32"), std::string::npos);
}

} // namespace
} // namespace kiln::runtime

namespace kiln::runtime {
namespace {

float halfToFloat(const uint8_t *at) {
  uint16_t h = uint16_t(at[0] | at[1] << 8);
  _Float16 value;
  std::memcpy(&value, &h, 2);
  return float(value);
}

// q4_Kx16 holds each row's d, dmin, packed six-bit scales and mins and
// nibbles where the sixteen-column kernel reads them: every element
// rebuilt from the record equals the reference dequantizer's value for the
// file's block.
TEST(WeightLayout, Q4_Kx16RebuildsEveryElement) {
  const int64_t rows = 32, blocks = 2, cols = 256 * blocks;
  std::vector<uint8_t> gguf(size_t(rows * blocks * 144));
  std::mt19937 random(7);
  for (uint8_t &byte : gguf)
    byte = uint8_t(random());
  for (int64_t b = 0; b < rows * blocks; ++b) { // finite d and dmin
    gguf[size_t(b * 144 + 1)] &= 0x3b;
    gguf[size_t(b * 144 + 3)] &= 0x3b;
  }
  std::vector<float> reference(size_t(rows * cols));
  ASSERT_TRUE(dequantize(GgmlType::Q4_K, gguf, reference).ok());
  auto packed = repackWeight(WeightLayout::Q4_Kx16, GgmlType::Q4_K, gguf, rows, cols);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t j = 0; j < blocks; ++j) {
      const uint8_t *record = packed->data() + ((n / 16) * blocks + j) * kQ4KX16RecordBytes;
      const int64_t r = n % 16;
      const float d = halfToFloat(record + 2 * r), dmin = halfToFloat(record + 32 + 2 * r);
      // Byte k of the row's twelve scale bytes; sub-block s's six-bit
      // scale and min (the q4_K format's packing).
      auto packedByte = [&](int k) { return int(record[64 + 16 * k + r]); };
      auto scaleMin = [&](int64_t s) -> std::pair<int, int> {
        if (s < 4)
          return {packedByte(int(s)) & 63, packedByte(int(s) + 4) & 63};
        return {(packedByte(int(s) + 4) & 15) | (packedByte(int(s) - 4) >> 6) << 4,
                (packedByte(int(s) + 4) >> 4) | (packedByte(int(s)) >> 6) << 4};
      };
      for (int64_t i = 0; i < 256; ++i) {
        const int64_t s = i / 32, p = i / 64, v = (i % 32) / 4;
        const uint8_t byte = record[256 + 64 * (8 * p + v) + 4 * r + i % 4];
        const int q = s % 2 ? byte >> 4 : byte & 15;
        auto [scale, min] = scaleMin(s);
        const float value = d * float(scale) * float(q) - dmin * float(min);
        ASSERT_FLOAT_EQ(value, reference[size_t(n * cols + j * 256 + i)])
            << "row " << n << " block " << j << " element " << i;
      }
    }
  EXPECT_EQ(weightLayoutName(WeightLayout::Q4_Kx16), "q4_Kx16");
  auto ragged = repackWeight(WeightLayout::Q4_Kx16, GgmlType::Q4_K,
                             std::span(gguf).first(size_t(8 * blocks * 144)), 8, cols);
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("multiple of 16"), std::string::npos)
      << ragged.error().message;
  auto other = repackWeight(WeightLayout::Q4_Kx16, GgmlType::Q4_0, gguf, rows, cols);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("not q4_K"), std::string::npos);
}

} // namespace
} // namespace kiln::runtime

namespace kiln::runtime {
namespace {

// q6_Kx16 holds the same bytes as the file's q6_K blocks, sixteen rows side
// by side: every element rebuilt from the record (low four bits, high two,
// int8 scale of its 16, d) equals the reference dequantizer's value.
TEST(WeightLayout, Q6_Kx16RebuildsEveryElement) {
  const int64_t rows = 32, blocks = 2, cols = 256 * blocks;
  std::vector<uint8_t> gguf(size_t(rows * blocks * 210));
  std::mt19937 random(11);
  for (uint8_t &byte : gguf)
    byte = uint8_t(random());
  for (int64_t b = 0; b < rows * blocks; ++b) // a finite d
    gguf[size_t(b * 210 + 209)] &= 0x3b;
  std::vector<float> reference(size_t(rows * cols));
  ASSERT_TRUE(dequantize(GgmlType::Q6_K, gguf, reference).ok());
  auto packed = repackWeight(WeightLayout::Q6_Kx16, GgmlType::Q6_K, gguf, rows, cols);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t j = 0; j < blocks; ++j) {
      const uint8_t *record = packed->data() + ((n / 16) * blocks + j) * kQ6KX16RecordBytes;
      const int64_t r = n % 16;
      const float d = halfToFloat(record + 2 * r);
      for (int64_t i = 0; i < 256; ++i) {
        // Element i = 128 half + 32 quarter + l: the low nibble (quarters
        // 0, 1) or high nibble (2, 3) of ql byte 64 half + l (+ 32 in
        // quarters 1 and 3), bits 2 quarter.. of qh byte 32 half + l.
        const int64_t half = i / 128, quarter = (i % 128) / 32, l = i % 32;
        const int64_t lowByte = 64 * half + l + (quarter % 2 ? 32 : 0);
        const int64_t highByte = 32 * half + l;
        // Run l / 4 of the half's ql bytes (and + 8 in odd quarters) and
        // its qh bytes are step 8 half + l / 4's three chunks.
        const uint8_t *step = record + 288 + 192 * (8 * half + l / 4) + 4 * r;
        const uint8_t low = step[(quarter % 2 ? 64 : 0) + lowByte % 4];
        const uint8_t high = step[128 + highByte % 4];
        const int lowBits = quarter < 2 ? low & 15 : low >> 4;
        const int q = (lowBits | ((high >> (2 * quarter)) & 3) << 4) - 32;
        const float value = d * float(int8_t(record[32 + 16 * (i / 16) + r])) * float(q);
        ASSERT_FLOAT_EQ(value, reference[size_t(n * cols + j * 256 + i)])
            << "row " << n << " block " << j << " element " << i;
      }
    }
  EXPECT_EQ(weightLayoutName(WeightLayout::Q6_Kx16), "q6_Kx16");
  auto ragged = repackWeight(WeightLayout::Q6_Kx16, GgmlType::Q6_K,
                             std::span(gguf).first(size_t(8 * blocks * 210)), 8, cols);
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("multiple of 16"), std::string::npos);
}

} // namespace
} // namespace kiln::runtime

namespace kiln::runtime {
namespace {

// q8_0x16: row r's d at 2r, its quant i in chunk i / 4 at 4r + i % 4.
TEST(WeightLayout, Q8_0x16PutsSixteenRowsSideBySide) {
  const int64_t rows = 32, blocks = 3;
  std::vector<uint8_t> gguf(size_t(rows * blocks * 34));
  for (size_t i = 0; i < gguf.size(); ++i)
    gguf[i] = uint8_t(i * 7 + i / 34);
  auto packed = repackWeight(WeightLayout::Q8_0x16, GgmlType::Q8_0, gguf, rows, blocks * 32);
  ASSERT_TRUE(packed.ok()) << packed.error().message;
  ASSERT_EQ(packed->size(), gguf.size());
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t j = 0; j < blocks; ++j) {
      const uint8_t *record = packed->data() + ((n / 16) * blocks + j) * kQ8_0X16RecordBytes;
      const uint8_t *block = gguf.data() + (n * blocks + j) * 34;
      const int64_t r = n % 16;
      EXPECT_EQ(record[2 * r], block[0]);
      EXPECT_EQ(record[2 * r + 1], block[1]);
      for (int64_t i = 0; i < 32; ++i)
        ASSERT_EQ(record[32 + 64 * (i / 4) + 4 * r + i % 4], block[2 + i])
            << "row " << n << " block " << j << " quant " << i;
    }
  EXPECT_EQ(weightLayoutName(WeightLayout::Q8_0x16), "q8_0x16");
  auto ragged = repackWeight(WeightLayout::Q8_0x16, GgmlType::Q8_0,
                             std::span(gguf).first(size_t(8 * blocks * 34)), 8, blocks * 32);
  ASSERT_FALSE(ragged.ok());
  EXPECT_NE(ragged.error().message.find("multiple of 16"), std::string::npos);
}

} // namespace
} // namespace kiln::runtime
