#include "runtime/WeightLayout.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include <sys/mman.h>

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

Result<WeightBuffer> allocateFor(size_t bytes) {
  WeightBuffer out = WeightBuffer::allocate(bytes);
  if (bytes > 0 && !out.data())
    return makeError("cannot allocate ", std::to_string(bytes),
                     " bytes for a reordered weight");
  return out;
}

// Calls copyGroups(first, last) over [0, groups) in contiguous shares, on
// one thread per core for a weight of more than a few MiB: the copy is a
// memory-bound loop that one core leaves at a fraction of the machine's
// bandwidth (a 2 GiB f16 model took 2.2 s on one thread).
void forEachGroupShare(int64_t groups, uint64_t bytes,
                       const std::function<void(int64_t, int64_t)> &copyGroups) {
  constexpr uint64_t kBytesPerThread = 8ull << 20;
  int64_t threads = std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()),
                                      int64_t(bytes / kBytesPerThread));
  threads = std::max<int64_t>(1, std::min(threads, groups));
  if (threads == 1)
    return copyGroups(0, groups);
  std::vector<std::thread> workers;
  for (int64_t t = 0; t < threads; ++t)
    workers.emplace_back(copyGroups, groups * t / threads, groups * (t + 1) / threads);
  for (std::thread &worker : workers)
    worker.join();
}

// Groups of `group` consecutive rows, each row cut in runs of `runBytes`:
// run j of every row of the group in turn, then run j + 1.
Result<WeightBuffer> interleaveRows(std::span<const uint8_t> gguf, int64_t rows,
                                    uint64_t rowBytes, int64_t group, uint64_t runBytes) {
  auto allocated = allocateFor(gguf.size());
  if (!allocated)
    return allocated.error();
  WeightBuffer out = std::move(allocated).value();
  forEachGroupShare(rows / group, gguf.size(), [&](int64_t first, int64_t last) {
    uint8_t *to = out.data() + uint64_t(first * group) * rowBytes;
    for (int64_t g = first; g < last; ++g)
      for (uint64_t run = 0; run < rowBytes / runBytes; ++run)
        for (int64_t r = 0; r < group; ++r) {
          std::memcpy(to, gguf.data() + uint64_t(g * group + r) * rowBytes + run * runBytes,
                      runBytes);
          to += runBytes;
        }
  });
  return out;
}

Result<WeightBuffer> packQ4_0x8(std::span<const uint8_t> gguf, int64_t rows,
                                        int64_t cols) {
  const int64_t blocks = cols / 32;
  if (rows <= 0 || cols <= 0 || cols % 32 != 0 || rows % kQ4_0GroupRows != 0)
    return makeError("weight layout q4_0x8: ", std::to_string(rows), " rows of ",
                     std::to_string(cols), " elements: needs rows a multiple of 8 and "
                     "columns a multiple of 32");
  const uint64_t rowBytes = uint64_t(blocks) * kQ4_0BlockBytes;
  KILN_TRY(checkSize("q4_0x8", gguf, rows, cols, ggmlTypeInfo(GgmlType::Q4_0), rowBytes));
  auto allocated = allocateFor(gguf.size());
  if (!allocated)
    return allocated.error();
  WeightBuffer out = std::move(allocated).value();
  forEachGroupShare(rows / kQ4_0GroupRows, gguf.size(), [&](int64_t first, int64_t last) {
    uint8_t *to = out.data() + uint64_t(first * kQ4_0GroupRows) * rowBytes;
    for (int64_t g = first; g < last; ++g)
      for (int64_t j = 0; j < blocks; ++j) {
        for (int64_t r = 0; r < kQ4_0GroupRows; ++r) {
          const uint8_t *block = gguf.data() + uint64_t(g * kQ4_0GroupRows + r) * rowBytes +
                                 j * kQ4_0BlockBytes;
          std::memcpy(to + 2 * r, block, 2);
          // Nibble bytes 4v..4v+3 of row r go to bytes 4r..4r+3 of chunk v.
          for (int64_t v = 0; v < 4; ++v)
            std::memcpy(to + 16 + 32 * v + 4 * r, block + 2 + 4 * v, 4);
        }
        to += kQ4_0GroupRows * kQ4_0BlockBytes;
      }
  });
  return out;
}

// Sixteen rows side by side (q4_Kx16, q6_Kx16, q8_0x16): for each group of
// sixteen rows and each block j, one record of the sixteen blocks (the
// same bytes, so the same size), which fillRecord(record, block, r) fills
// with row r's block.
using RecordFiller = void (*)(uint8_t *record, const uint8_t *block, int64_t r);

Result<WeightBuffer> packSixteenRows(std::string_view layout, GgmlType type,
                                     std::span<const uint8_t> gguf, int64_t rows,
                                     int64_t cols, RecordFiller fillRecord) {
  constexpr int64_t kGroup = 16;
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  const int64_t blockSize = info.blockSize, blockBytes = info.bytesPerBlock;
  if (rows <= 0 || cols <= 0 || cols % blockSize != 0 || rows % kGroup != 0)
    return makeError("weight layout ", std::string(layout), ": ", std::to_string(rows),
                     " rows of ", std::to_string(cols), " elements: needs rows a multiple "
                     "of 16 and columns a multiple of ", std::to_string(blockSize));
  const int64_t blocks = cols / blockSize;
  const uint64_t rowBytes = uint64_t(blocks) * uint64_t(blockBytes);
  KILN_TRY(checkSize(layout, gguf, rows, cols, info, rowBytes));
  auto allocated = allocateFor(gguf.size());
  if (!allocated)
    return allocated.error();
  WeightBuffer out = std::move(allocated).value();
  const uint64_t recordBytes = uint64_t(kGroup * blockBytes);
  forEachGroupShare(rows / kGroup, out.size(), [&](int64_t first, int64_t last) {
    uint8_t *to = out.data() + uint64_t(first * blocks) * recordBytes;
    for (int64_t g = first; g < last; ++g)
      for (int64_t j = 0; j < blocks; ++j, to += recordBytes)
        for (int64_t r = 0; r < kGroup; ++r)
          fillRecord(to, gguf.data() + uint64_t(g * kGroup + r) * rowBytes + j * blockBytes,
                     r);
  });
  return out;
}

// q4_K: d, dmin (f16), scales[12], qs[128].
void fillQ4_Kx16(uint8_t *to, const uint8_t *block, int64_t r) {
  std::memcpy(to + 2 * r, block, 2);          // d
  std::memcpy(to + 32 + 2 * r, block + 2, 2); // dmin
  for (int k = 0; k < 12; ++k)
    to[64 + 16 * k + r] = block[4 + k];
  for (int64_t chunk = 0; chunk < 32; ++chunk) // chunk = 8p + v
    std::memcpy(to + 256 + 64 * chunk + 4 * r, block + 16 + 4 * chunk, 4);
}

// q6_K: ql[128], qh[64], scales[16] (int8), d (f16).
void fillQ6_Kx16(uint8_t *to, const uint8_t *block, int64_t r) {
  std::memcpy(to + 2 * r, block + 208, 2); // d
  for (int s = 0; s < 16; ++s)
    to[32 + 16 * s + r] = block[192 + s];
  for (int64_t step = 0; step < 16; ++step) {
    const int64_t n = step / 8, l = step % 8;
    uint8_t *chunks = to + 288 + 192 * step + 4 * r;
    std::memcpy(chunks, block + 4 * (16 * n + l), 4);
    std::memcpy(chunks + 64, block + 4 * (16 * n + 8 + l), 4);
    std::memcpy(chunks + 128, block + 128 + 4 * (8 * n + l), 4);
  }
}

// q8_0: d (f16), qs[32].
void fillQ8_0x16(uint8_t *to, const uint8_t *block, int64_t r) {
  std::memcpy(to + 2 * r, block, 2);
  for (int64_t v = 0; v < 8; ++v)
    std::memcpy(to + 32 + 64 * v + 4 * r, block + 2 + 4 * v, 4);
}

Result<WeightBuffer> packRows4(GgmlType type, std::span<const uint8_t> gguf,
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

Result<WeightBuffer> packPairs32(GgmlType type, std::span<const uint8_t> gguf,
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

WeightBuffer WeightBuffer::allocate(size_t bytes) {
  WeightBuffer buffer;
  if (bytes == 0)
    return buffer;
  // Mapped with 2 MiB to spare, so the start can move to a 2 MiB boundary
  // and every 2 MiB of the weight can be one huge page.
  constexpr size_t kHuge = 2u << 20;
  const size_t mapped = bytes + kHuge;
  void *base = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return buffer;
  auto address = reinterpret_cast<uintptr_t>(base);
  uintptr_t aligned = (address + kHuge - 1) & ~uintptr_t(kHuge - 1);
  // Only a hint: without transparent huge pages the buffer is plain pages.
  (void)madvise(reinterpret_cast<void *>(aligned), bytes, MADV_HUGEPAGE);
  buffer.data_ = reinterpret_cast<uint8_t *>(aligned);
  buffer.size_ = bytes;
  buffer.mapped_ = mapped;
  buffer.base_ = base;
  return buffer;
}

WeightBuffer::WeightBuffer(WeightBuffer &&other) noexcept { *this = std::move(other); }

WeightBuffer &WeightBuffer::operator=(WeightBuffer &&other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    base_ = std::exchange(other.base_, nullptr);
  }
  return *this;
}

WeightBuffer::~WeightBuffer() { reset(); }

void WeightBuffer::reset() {
  if (base_)
    munmap(base_, mapped_);
  base_ = nullptr;
  data_ = nullptr;
  size_ = mapped_ = 0;
}

std::string_view weightLayoutName(WeightLayout layout) {
  switch (layout) {
  case WeightLayout::Gguf: return "gguf";
  case WeightLayout::Q4_0x8: return "q4_0x8";
  case WeightLayout::Rows4: return "rows4";
  case WeightLayout::Pairs32: return "pairs32";
  case WeightLayout::Q4_Kx16: return "q4_Kx16";
  case WeightLayout::Q6_Kx16: return "q6_Kx16";
  case WeightLayout::Q8_0x16: return "q8_0x16";
  }
  return "?";
}

Result<WeightBuffer> repackWeight(WeightLayout layout, GgmlType type,
                                          std::span<const uint8_t> gguf, int64_t rows,
                                          int64_t cols) {
  switch (layout) {
  case WeightLayout::Gguf: {
    auto out = allocateFor(gguf.size());
    if (out && !gguf.empty())
      std::memcpy(out->data(), gguf.data(), gguf.size());
    return out;
  }
  case WeightLayout::Q4_0x8:
    if (type != GgmlType::Q4_0)
      return makeError("weight layout q4_0x8: the weight is ",
                       std::string(ggmlTypeInfo(type).name), ", not q4_0");
    return packQ4_0x8(gguf, rows, cols);
  case WeightLayout::Rows4: return packRows4(type, gguf, rows, cols);
  case WeightLayout::Pairs32: return packPairs32(type, gguf, rows, cols);
  case WeightLayout::Q4_Kx16:
    if (type != GgmlType::Q4_K)
      return makeError("weight layout q4_Kx16: the weight is ",
                       std::string(ggmlTypeInfo(type).name), ", not q4_K");
    return packSixteenRows("q4_Kx16", type, gguf, rows, cols, fillQ4_Kx16);
  case WeightLayout::Q6_Kx16:
    if (type != GgmlType::Q6_K)
      return makeError("weight layout q6_Kx16: the weight is ",
                       std::string(ggmlTypeInfo(type).name), ", not q6_K");
    return packSixteenRows("q6_Kx16", type, gguf, rows, cols, fillQ6_Kx16);
  case WeightLayout::Q8_0x16:
    if (type != GgmlType::Q8_0)
      return makeError("weight layout q8_0x16: the weight is ",
                       std::string(ggmlTypeInfo(type).name), ", not q8_0");
    return packSixteenRows("q8_0x16", type, gguf, rows, cols, fillQ8_0x16);
  }
  return makeError("unknown weight layout ", std::to_string(int(layout)));
}

} // namespace kiln::runtime
