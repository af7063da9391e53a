// How a weight matrix is laid out in device memory. The plan says it per
// weight (ExecutionPlan::weightLayouts): Gguf is the file's own rows of
// blocks, read in place; another layout is the same blocks reordered for
// the kernels of one target, made once when the executor loads the weights
// (a byte shuffle: no value changes, so results stay bit for bit those of
// the file's blocks). The target that asks for a layout generates the
// kernels that read it (codegen's Target::matmulWeightLayout).
#pragma once

#include "quant/GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace kiln::runtime {

enum class WeightLayout : uint8_t {
  Gguf,
  // q4_0 in groups of eight rows (rows % 8 == 0): for group g and block j
  // (of K/32), 144 bytes at (g * K/32 + j) * 144: the eight rows' f16
  // scales (row 8g first), then four 32-byte chunks: bytes 4r..4r+3 of
  // chunk v are nibble bytes 4v..4v+3 of row 8g+r (elements 4v..4v+3 in
  // the low nibbles, 16+4v.. in the high). A kernel computing eight output
  // columns streams one contiguous array, loads the eight scales at once,
  // and gets from each chunk's nibbles four elements of all eight rows, so
  // its byte dots land in the rows' lanes without a horizontal sum.
  Q4_0x8,
  // Any block format (rows % 4 == 0): the blocks of each four consecutive
  // rows interleaved, block j of rows 4g..4g+3 one after another, then
  // block j + 1. A kernel computing four output columns reads one stream;
  // row n's block j is at (n/4) * 4 * rowBytes + (j * 4 + n % 4) * blockBytes.
  Rows4,
  // f32, f16 or bf16 (rows % 2 == 0, cols % 32 == 0): each two consecutive
  // rows interleaved in runs of 32 elements; element k of row n is at
  // (n/2) * 2 * cols + (k/32) * 64 + (n%2) * 32 + k%32 (in elements). A
  // kernel computing two output columns over chunks of 32 reads one stream.
  Pairs32,
  // q4_K in groups of sixteen rows (rows % 16 == 0), for kernels that sum
  // each block's integers whole (--numerics fast): for group g and block j
  // (of K/256), kQ4KX16RecordBytes at (g * K/256 + j) * that: the sixteen
  // rows' f16 d, their f16 dmin, their 12 bytes of packed scales and mins
  // (byte k of row r at 16k + r), then 4 x 8 chunks of 64 bytes: bytes
  // 4r..4r+3 of chunk (p, v) are nibble bytes 32p + 4v .. +3 of row r
  // (elements 64p + 4v.. in the low nibbles, 64p + 32 + 4v.. in the high).
  // A byte dot of a chunk's nibbles with four activations broadcast leaves
  // row r's products in lane r, so sixteen columns need no horizontal sums.
  Q4_Kx16,
  // q6_K in groups of sixteen rows (rows % 16 == 0), for the same kernels:
  // for group g and block j, kQ6KX16RecordBytes at (g * K/256 + j) * that:
  // the sixteen rows' f16 d, their 16 x 16 int8 scales (sub-block s of row
  // r at s * 16 + r), then 16 steps of three 64-byte chunks, in the order
  // the kernel reads them (one stream): step 4 (2n + h) + t, with
  // l = 4h + t, holds ql bytes 4(16n + l).., ql bytes 4(16n + 8 + l).. and
  // qh bytes 4(8n + l).. of the sixteen rows, row r's four at 4r (the
  // same bytes as the file's blocks, sixteen rows side by side in runs of
  // four).
  Q6_Kx16,
  // q8_0 in groups of sixteen rows (rows % 16 == 0), for the same kernels:
  // for group g and block j (of K/32), kQ8_0X16RecordBytes at
  // (g * K/32 + j) * that: the sixteen rows' f16 d, then 8 chunks of 64
  // bytes, chunk v holding quants 4v..4v+3 of each row (row r's at 4r).
  Q8_0x16,
};

// Bytes of one q4_Kx16 record: sixteen q4_K blocks (144 bytes each).
inline constexpr int64_t kQ4KX16RecordBytes = 16 * 2 * 2 + 16 * 12 + 16 * 128;
static_assert(kQ4KX16RecordBytes == 16 * 144);
// Bytes of one q6_Kx16 record: sixteen q6_K blocks (210 bytes each).
inline constexpr int64_t kQ6KX16RecordBytes = 16 * 2 + 16 * 16 + 16 * 128 + 16 * 64;
static_assert(kQ6KX16RecordBytes == 16 * 210);
// Bytes of one q8_0x16 record: sixteen q8_0 blocks (34 bytes each).
inline constexpr int64_t kQ8_0X16RecordBytes = 16 * 2 + 16 * 32;

std::string_view weightLayoutName(WeightLayout layout);

// The bytes of a repacked weight: anonymous memory, left unwritten until
// the repack's threads first touch it (so the kernel zeroes its pages in
// parallel, not in one memset), and offered to the kernel as huge pages
// (MADV_HUGEPAGE), which the decode kernels stream with fewer TLB misses.
class WeightBuffer {
public:
  WeightBuffer() = default;
  // Empty (data() null) when the memory cannot be had.
  static WeightBuffer allocate(size_t bytes);
  WeightBuffer(WeightBuffer &&other) noexcept;
  WeightBuffer &operator=(WeightBuffer &&other) noexcept;
  WeightBuffer(const WeightBuffer &) = delete;
  WeightBuffer &operator=(const WeightBuffer &) = delete;
  ~WeightBuffer();

  uint8_t *data() { return data_; }
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  const uint8_t *begin() const { return data_; }
  const uint8_t *end() const { return data_ + size_; }
  uint8_t operator[](size_t i) const { return data_[i]; }
  operator std::span<const uint8_t>() const { return {data_, size_}; }

private:
  void reset(); // unmaps; the buffer is then empty
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
  void *base_ = nullptr; // the mapping, from a page boundary
  size_t mapped_ = 0;
};

// The bytes of a GGUF weight of `rows` rows of `cols` elements of `type`
// in `layout`; an error naming the layout and the shape when the weight
// does not fit it (wrong size or type, rows or cols not a multiple of the
// group), or when its memory cannot be had.
Result<WeightBuffer> repackWeight(WeightLayout layout, GgmlType type,
                                          std::span<const uint8_t> gguf, int64_t rows,
                                          int64_t cols);

} // namespace kiln::runtime
