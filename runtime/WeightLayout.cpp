#include "runtime/WeightLayout.h"

#include <cstring>
#include <string>

namespace kiln::runtime {

namespace {

constexpr int64_t kQ4_0BlockBytes = 18; // f16 scale + 16 bytes of nibbles
constexpr int64_t kQ4_0GroupRows = 8;

// The weight must be `rows` whole rows of `rowBytes`.
Status checkSize(std::string_view layout, std::span<const uint8_t> gguf, int64_t rows,
                 int64_t cols, const GgmlTypeInfo &info, uint64_t rowBytes) {
  if (gguf.size() == rowBytes * uint64_t(rows))
    return Status::success();
  return makeError("weight layout ", std::string(layout), ": ", std::to_string(gguf.size()),
                   " bytes for ", std::to_string(rows), " ", std::string(info.name),
                   " rows of ", std::to_string(cols), " elements (",
                   std::to_string(rowBytes * uint64_t(rows)), " expected)");
}

// Groups of `group` consecutive rows, each row cut in runs of `runBytes`:
// run j of every row of the group in turn, then run j + 1.
std::vector<uint8_t> interleaveRows(std::span<const uint8_t> gguf, int64_t rows,
                                    uint64_t rowBytes, int64_t group, uint64_t runBytes) {
  std::vector<uint8_t> out(gguf.size());
  uint8_t *to = out.data();
  for (int64_t g = 0; g < rows / group; ++g)
    for (uint64_t run = 0; run < rowBytes / runBytes; ++run)
      for (int64_t r = 0; r < group; ++r) {
        std::memcpy(to, gguf.data() + uint64_t(g * group + r) * rowBytes + run * runBytes,
                    runBytes);
        to += runBytes;
      }
  return out;
}

Result<std::vector<uint8_t>> packQ4_0x8(std::span<const uint8_t> gguf, int64_t rows,
                                        int64_t cols) {
  const int64_t blocks = cols / 32;
  if (rows <= 0 || cols <= 0 || cols % 32 != 0 || rows % kQ4_0GroupRows != 0)
    return makeError("weight layout q4_0x8: ", std::to_string(rows), " rows of ",
                     std::to_string(cols), " elements: needs rows a multiple of 8 and "
                     "columns a multiple of 32");
  const uint64_t rowBytes = uint64_t(blocks) * kQ4_0BlockBytes;
  KILN_TRY(checkSize("q4_0x8", gguf, rows, cols, ggmlTypeInfo(GgmlType::Q4_0), rowBytes));
  std::vector<uint8_t> out(gguf.size());
  uint8_t *to = out.data();
  for (int64_t g = 0; g < rows / kQ4_0GroupRows; ++g)
    for (int64_t j = 0; j < blocks; ++j) {
      for (int64_t r = 0; r < kQ4_0GroupRows; ++r) {
        const uint8_t *block =
            gguf.data() + uint64_t(g * kQ4_0GroupRows + r) * rowBytes + j * kQ4_0BlockBytes;
        std::memcpy(to + 2 * r, block, 2);
        // Nibble bytes 4v..4v+3 of row r go to bytes 4r..4r+3 of chunk v.
        for (int64_t v = 0; v < 4; ++v)
          std::memcpy(to + 16 + 32 * v + 4 * r, block + 2 + 4 * v, 4);
      }
      to += kQ4_0GroupRows * kQ4_0BlockBytes;
    }
  return out;
}

Result<std::vector<uint8_t>> packRows4(GgmlType type, std::span<const uint8_t> gguf,
                                       int64_t rows, int64_t cols) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  const int64_t blockSize = info.blockSize;
  if (rows <= 0 || cols <= 0 || blockSize <= 0 || cols % blockSize != 0 || rows % 4 != 0)
    return makeError("weight layout rows4: ", std::to_string(rows), " rows of ",
                     std::to_string(cols), " ", std::string(info.name),
                     " elements: needs rows a multiple of 4 and whole blocks");
  const uint64_t rowBytes = uint64_t(cols / blockSize) * info.bytesPerBlock;
  KILN_TRY(checkSize("rows4", gguf, rows, cols, info, rowBytes));
  return interleaveRows(gguf, rows, rowBytes, 4, info.bytesPerBlock);
}

Result<std::vector<uint8_t>> packPairs32(GgmlType type, std::span<const uint8_t> gguf,
                                         int64_t rows, int64_t cols) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  if (info.blockSize != 1)
    return makeError("weight layout pairs32: the weight is ", std::string(info.name),
                     ", not f32, f16 or bf16");
  if (rows <= 0 || cols <= 0 || rows % 2 != 0 || cols % 32 != 0)
    return makeError("weight layout pairs32: ", std::to_string(rows), " rows of ",
                     std::to_string(cols), " elements: needs rows a multiple of 2 and "
                     "columns a multiple of 32");
  const uint64_t rowBytes = uint64_t(cols) * info.bytesPerBlock;
  KILN_TRY(checkSize("pairs32", gguf, rows, cols, info, rowBytes));
  return interleaveRows(gguf, rows, rowBytes, 2, 32 * uint64_t(info.bytesPerBlock));
}

} // namespace

std::string_view weightLayoutName(WeightLayout layout) {
  switch (layout) {
  case WeightLayout::Gguf: return "gguf";
  case WeightLayout::Q4_0x8: return "q4_0x8";
  case WeightLayout::Rows4: return "rows4";
  case WeightLayout::Pairs32: return "pairs32";
  }
  return "?";
}

Result<std::vector<uint8_t>> repackWeight(WeightLayout layout, GgmlType type,
                                          std::span<const uint8_t> gguf, int64_t rows,
                                          int64_t cols) {
  switch (layout) {
  case WeightLayout::Gguf: return std::vector<uint8_t>(gguf.begin(), gguf.end());
  case WeightLayout::Q4_0x8:
    if (type != GgmlType::Q4_0)
      return makeError("weight layout q4_0x8: the weight is ",
                       std::string(ggmlTypeInfo(type).name), ", not q4_0");
    return packQ4_0x8(gguf, rows, cols);
  case WeightLayout::Rows4: return packRows4(type, gguf, rows, cols);
  case WeightLayout::Pairs32: return packPairs32(type, gguf, rows, cols);
  }
  return makeError("unknown weight layout ", std::to_string(int(layout)));
}

} // namespace kiln::runtime
