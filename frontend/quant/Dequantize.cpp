#include "Dequantize.h"

#include "BlockFormats.h"
#include "support/Half.h"

#include <cstring>

namespace kiln {

namespace {

using namespace blocks;

// Copies block i out of the byte stream: blocks need not be aligned there.
template <typename Block> Block loadBlock(const uint8_t *src, size_t i) {
  Block block;
  std::memcpy(&block, src + i * sizeof(Block), sizeof(Block));
  return block;
}

void dequantizeQ4_0(const Q4_0 &b, float *y) {
  float d = halfToFloat(b.d);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * ((b.qs[j] & 0x0f) - 8);
    y[j + kQK / 2] = d * ((b.qs[j] >> 4) - 8);
  }
}

void dequantizeQ4_1(const Q4_1 &b, float *y) {
  float d = halfToFloat(b.d), m = halfToFloat(b.m);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * (b.qs[j] & 0x0f) + m;
    y[j + kQK / 2] = d * (b.qs[j] >> 4) + m;
  }
}

// The 5-bit quant of element j: low nibble from qs, fifth bit from qh.
template <typename Block> int fiveBitQuant(const Block &b, int j) {
  uint32_t high;
  std::memcpy(&high, b.qh, sizeof high);
  int nibble = j < kQK / 2 ? (b.qs[j] & 0x0f) : (b.qs[j - kQK / 2] >> 4);
  return nibble | static_cast<int>(((high >> j) & 1) << 4);
}

void dequantizeQ5_0(const Q5_0 &b, float *y) {
  float d = halfToFloat(b.d);
  for (int j = 0; j < kQK; ++j)
    y[j] = d * (fiveBitQuant(b, j) - 16);
}

void dequantizeQ5_1(const Q5_1 &b, float *y) {
  float d = halfToFloat(b.d), m = halfToFloat(b.m);
  for (int j = 0; j < kQK; ++j)
    y[j] = d * fiveBitQuant(b, j) + m;
}

void dequantizeQ8_0(const Q8_0 &b, float *y) {
  float d = halfToFloat(b.d);
  for (int j = 0; j < kQK; ++j)
    y[j] = d * b.qs[j];
}

// The 2-bit quants are laid out in two halves of 128 elements; within a half,
// byte l of the 32-byte group holds elements l, l+32, l+64, l+96 at bit
// offsets 0, 2, 4, 6. The same layout carries Q3_K's low bits.
int twoBitQuant(const uint8_t *qs, int i) {
  int half = i / 128, within = i % 128;
  return (qs[half * 32 + within % 32] >> (2 * (within / 32))) & 3;
}

void dequantizeQ2_K(const Q2_K &b, float *y) {
  float d = halfToFloat(b.d), dmin = halfToFloat(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    uint8_t packed = b.scales[i / 16];
    y[i] = d * (packed & 0x0f) * twoBitQuant(b.qs, i) - dmin * (packed >> 4);
  }
}

// Q3_K packs sixteen 6-bit scales in 12 bytes: low nibbles of scale s in
// bytes 0..7 (s < 8: low nibble of byte s; else high nibble of byte s-8),
// the two high bits in bytes 8..11 (byte 8 + s%4, bit pair s/4).
int q3kScale(const uint8_t *scales, int s) {
  int low = s < 8 ? (scales[s] & 0x0f) : (scales[s - 8] >> 4);
  int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void dequantizeQ3_K(const Q3_K &b, float *y) {
  float d = halfToFloat(b.d);
  for (int i = 0; i < kQKK; ++i) {
    // The high bit of element i sits in hmask byte i%32, bit i/32; a clear
    // bit means the quant is offset by -4.
    bool highSet = (b.hmask[i % 32] >> (i / 32)) & 1;
    int q = twoBitQuant(b.qs, i) - (highSet ? 0 : 4);
    y[i] = d * q3kScale(b.scales, i / 16) * q;
  }
}

// Q4_K and Q5_K pack eight 6-bit scales and eight 6-bit mins in 12 bytes.
void q4kScaleMin(const uint8_t *scales, int s, int &scale, int &min) {
  if (s < 4) {
    scale = scales[s] & 63;
    min = scales[s + 4] & 63;
  } else {
    scale = (scales[s + 4] & 0x0f) | ((scales[s - 4] >> 6) << 4);
    min = (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4);
  }
}

// 4-bit quants of K-quants: 64-element groups; byte l of group g holds
// element 64g+l in its low nibble and 64g+32+l in its high nibble.
int fourBitQuantK(const uint8_t *qs, int i) {
  int group = i / 64, within = i % 64;
  uint8_t byte = qs[group * 32 + within % 32];
  return within < 32 ? (byte & 0x0f) : (byte >> 4);
}

void dequantizeQ4_K(const Q4_K &b, float *y) {
  float d = halfToFloat(b.d), dmin = halfToFloat(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    int scale, min;
    q4kScaleMin(b.scales, i / 32, scale, min);
    y[i] = d * scale * fourBitQuantK(b.qs, i) - dmin * min;
  }
}

void dequantizeQ5_K(const Q5_K &b, float *y) {
  float d = halfToFloat(b.d), dmin = halfToFloat(b.dmin);
  for (int i = 0; i < kQKK; ++i) {
    int scale, min;
    q4kScaleMin(b.scales, i / 32, scale, min);
    // Fifth bit: qh byte i%32, bit i/32.
    int q = fourBitQuantK(b.qs, i) | (((b.qh[i % 32] >> (i / 32)) & 1) << 4);
    y[i] = d * scale * q - dmin * min;
  }
}

void dequantizeQ6_K(const Q6_K &b, float *y) {
  float d = halfToFloat(b.d);
  for (int i = 0; i < kQKK; ++i) {
    // Two halves of 128; within a half, element 32k+l (k < 4) takes its low
    // nibble from ql[64h + l + 32(k%2)] (low nibble for k<2, high for k>=2)
    // and its high two bits from qh[32h + l] at bit pair k.
    int half = i / 128, within = i % 128, k = within / 32, l = within % 32;
    uint8_t lowByte = b.ql[64 * half + l + 32 * (k % 2)];
    int low = k < 2 ? (lowByte & 0x0f) : (lowByte >> 4);
    int high = (b.qh[32 * half + l] >> (2 * k)) & 3;
    y[i] = d * b.scales[i / 16] * ((low | (high << 4)) - 32);
  }
}

template <typename Block, void (*Decode)(const Block &, float *)>
void dequantizeBlocks(const uint8_t *src, float *dst, size_t blockCount,
                      int blockSize) {
  for (size_t i = 0; i < blockCount; ++i)
    Decode(loadBlock<Block>(src, i), dst + i * blockSize);
}

} // namespace

bool canDequantize(GgmlType type) {
  return ggmlTypeInfo(type).dequantizable;
}

Status dequantize(GgmlType type, std::span<const uint8_t> src,
                  std::span<float> dst) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  if (!info.dequantizable)
    return makeError("dequantizing ", std::string(info.name),
                     " is not supported");
  if (dst.size() % info.blockSize != 0)
    return makeError("dequantize ", std::string(info.name), ": ",
                     std::to_string(dst.size()),
                     " elements are not a whole number of blocks");
  size_t blockCount = dst.size() / info.blockSize;
  if (src.size() != blockCount * info.bytesPerBlock)
    return makeError("dequantize ", std::string(info.name), ": ",
                     std::to_string(src.size()), " bytes given for ",
                     std::to_string(dst.size()), " elements");
  if (dst.empty()) // empty spans may hold null pointers: no memcpy
    return Status::success();
  const uint8_t *in = src.data();
  float *out = dst.data();
  switch (type) {
  case GgmlType::F32:
    std::memcpy(out, in, src.size());
    break;
  case GgmlType::F16:
    for (size_t i = 0; i < blockCount; ++i) {
      uint16_t h;
      std::memcpy(&h, in + 2 * i, 2);
      out[i] = halfToFloat(h);
    }
    break;
  case GgmlType::BF16:
    for (size_t i = 0; i < blockCount; ++i) {
      uint16_t h;
      std::memcpy(&h, in + 2 * i, 2);
      out[i] = bf16ToFloat(h);
    }
    break;
  case GgmlType::Q4_0:
    dequantizeBlocks<Q4_0, dequantizeQ4_0>(in, out, blockCount, kQK);
    break;
  case GgmlType::Q4_1:
    dequantizeBlocks<Q4_1, dequantizeQ4_1>(in, out, blockCount, kQK);
    break;
  case GgmlType::Q5_0:
    dequantizeBlocks<Q5_0, dequantizeQ5_0>(in, out, blockCount, kQK);
    break;
  case GgmlType::Q5_1:
    dequantizeBlocks<Q5_1, dequantizeQ5_1>(in, out, blockCount, kQK);
    break;
  case GgmlType::Q8_0:
    dequantizeBlocks<Q8_0, dequantizeQ8_0>(in, out, blockCount, kQK);
    break;
  case GgmlType::Q2_K:
    dequantizeBlocks<Q2_K, dequantizeQ2_K>(in, out, blockCount, kQKK);
    break;
  case GgmlType::Q3_K:
    dequantizeBlocks<Q3_K, dequantizeQ3_K>(in, out, blockCount, kQKK);
    break;
  case GgmlType::Q4_K:
    dequantizeBlocks<Q4_K, dequantizeQ4_K>(in, out, blockCount, kQKK);
    break;
  case GgmlType::Q5_K:
    dequantizeBlocks<Q5_K, dequantizeQ5_K>(in, out, blockCount, kQKK);
    break;
  case GgmlType::Q6_K:
    dequantizeBlocks<Q6_K, dequantizeQ6_K>(in, out, blockCount, kQKK);
    break;
  default:
    return makeError("dequantizing ", std::string(info.name),
                     " is not supported");
  }
  return Status::success();
}

} // namespace kiln
