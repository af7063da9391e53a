#include "Quantize.h"

#include "BlockFormats.h"
#include "KQuantize.h"
#include "NonLinearQuantize.h"
#include "support/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kiln {

namespace {

using namespace blocks;

// The element of largest magnitude, sign kept (the first one on ties).
float signedAbsMax(const float *x, int n) {
  float best = 0.0f, bestAbs = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > bestAbs) {
      bestAbs = std::fabs(x[j]);
      best = x[j];
    }
  return best;
}

void minMax(const float *x, int n, float &lo, float &hi) {
  lo = hi = x[0];
  for (int j = 1; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
}

// The scale d maps the extreme value to the most negative quant (-8), so the
// full range [-8, 7] is used; quants are truncated after adding 8.5.
Q4_0 quantizeQ4_0(const float *x) {
  Q4_0 b{};
  float d = signedAbsMax(x, kQK) / -8.0f;
  float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = floatToHalf(d);
  for (int j = 0; j < kQK / 2; ++j) {
    auto quant = [&](float v) {
      return static_cast<uint8_t>(
          std::min<int>(15, static_cast<int8_t>(v * inverse + 8.5f)));
    };
    b.qs[j] = quant(x[j]) | (quant(x[j + kQK / 2]) << 4);
  }
  return b;
}

Q4_1 quantizeQ4_1(const float *x) {
  Q4_1 b{};
  float lo, hi;
  minMax(x, kQK, lo, hi);
  float d = (hi - lo) / 15.0f;
  float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = floatToHalf(d);
  b.m = floatToHalf(lo);
  for (int j = 0; j < kQK / 2; ++j) {
    auto quant = [&](float v) {
      return static_cast<uint8_t>(std::min<int>(
          15, static_cast<int8_t>((v - lo) * inverse + 0.5f)));
    };
    b.qs[j] = quant(x[j]) | (quant(x[j + kQK / 2]) << 4);
  }
  return b;
}

// Stores 5-bit quants: low nibbles as in Q4, fifth bits into the qh word.
template <typename Block> void packFiveBit(Block &b, const uint8_t *quants) {
  uint32_t high = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    uint8_t q0 = quants[j], q1 = quants[j + kQK / 2];
    b.qs[j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    high |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
    high |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + kQK / 2);
  }
  std::memcpy(b.qh, &high, sizeof high);
}

Q5_0 quantizeQ5_0(const float *x) {
  Q5_0 b{};
  float d = signedAbsMax(x, kQK) / -16.0f;
  float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = floatToHalf(d);
  uint8_t quants[kQK];
  for (int j = 0; j < kQK; ++j)
    quants[j] = static_cast<uint8_t>(
        std::min<int>(31, static_cast<int8_t>(x[j] * inverse + 16.5f)));
  packFiveBit(b, quants);
  return b;
}

Q5_1 quantizeQ5_1(const float *x) {
  Q5_1 b{};
  float lo, hi;
  minMax(x, kQK, lo, hi);
  float d = (hi - lo) / 31.0f;
  float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = floatToHalf(d);
  b.m = floatToHalf(lo);
  uint8_t quants[kQK];
  for (int j = 0; j < kQK; ++j)
    quants[j] = static_cast<uint8_t>((x[j] - lo) * inverse + 0.5f);
  packFiveBit(b, quants);
  return b;
}

Q8_0 quantizeQ8_0(const float *x) {
  Q8_0 b{};
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j)
    amax = std::max(amax, std::fabs(x[j]));
  float d = amax / 127.0f;
  float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  b.d = floatToHalf(d);
  for (int j = 0; j < kQK; ++j)
    b.qs[j] = static_cast<int8_t>(std::round(x[j] * inverse));
  return b;
}

template <typename Block, Block (*Encode)(const float *), int Size = kQK>
void quantizeBlocks(const float *src, uint8_t *dst, size_t blockCount) {
  for (size_t i = 0; i < blockCount; ++i) {
    Block block = Encode(src + i * Size);
    std::memcpy(dst + i * sizeof(Block), &block, sizeof(Block));
  }
}

} // namespace

bool canQuantize(GgmlType type) {
  switch (type) {
  case GgmlType::F32:
  case GgmlType::F16:
  case GgmlType::BF16:
  case GgmlType::Q4_0:
  case GgmlType::Q4_1:
  case GgmlType::Q5_0:
  case GgmlType::Q5_1:
  case GgmlType::Q8_0:
  case GgmlType::Q2_K:
  case GgmlType::Q3_K:
  case GgmlType::Q4_K:
  case GgmlType::Q5_K:
  case GgmlType::Q6_K:
  case GgmlType::IQ4_NL:
    return true;
  default:
    return false;
  }
}

Status quantize(GgmlType type, std::span<const float> src,
                std::span<uint8_t> dst) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  if (!canQuantize(type))
    return makeError("quantizing to ", std::string(info.name),
                     " is not supported");
  if (src.size() % info.blockSize != 0)
    return makeError("quantize ", std::string(info.name), ": ",
                     std::to_string(src.size()),
                     " elements are not a whole number of blocks");
  size_t blockCount = src.size() / info.blockSize;
  if (dst.size() != blockCount * info.bytesPerBlock)
    return makeError("quantize ", std::string(info.name), ": ",
                     std::to_string(dst.size()), " bytes given for ",
                     std::to_string(src.size()), " elements");
  if (src.empty()) // empty spans may hold null pointers: no memcpy
    return Status::success();
  const float *in = src.data();
  uint8_t *out = dst.data();
  switch (type) {
  case GgmlType::F32:
    std::memcpy(out, in, dst.size());
    break;
  case GgmlType::F16:
  case GgmlType::BF16:
    for (size_t i = 0; i < blockCount; ++i) {
      uint16_t h = type == GgmlType::F16 ? floatToHalf(in[i])
                                         : floatToBf16(in[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
    break;
  case GgmlType::Q4_0:
    quantizeBlocks<Q4_0, quantizeQ4_0>(in, out, blockCount);
    break;
  case GgmlType::Q4_1:
    quantizeBlocks<Q4_1, quantizeQ4_1>(in, out, blockCount);
    break;
  case GgmlType::Q5_0:
    quantizeBlocks<Q5_0, quantizeQ5_0>(in, out, blockCount);
    break;
  case GgmlType::Q5_1:
    quantizeBlocks<Q5_1, quantizeQ5_1>(in, out, blockCount);
    break;
  case GgmlType::Q8_0:
    quantizeBlocks<Q8_0, quantizeQ8_0>(in, out, blockCount);
    break;
  case GgmlType::IQ4_NL:
    quantizeBlocks<IQ4_NL, kquant::encodeIQ4_NL>(in, out, blockCount);
    break;
  case GgmlType::Q2_K:
    quantizeBlocks<Q2_K, kquant::encodeQ2_K, kQKK>(in, out, blockCount);
    break;
  case GgmlType::Q3_K:
    quantizeBlocks<Q3_K, kquant::encodeQ3_K, kQKK>(in, out, blockCount);
    break;
  case GgmlType::Q4_K:
    quantizeBlocks<Q4_K, kquant::encodeQ4_K, kQKK>(in, out, blockCount);
    break;
  case GgmlType::Q5_K:
    quantizeBlocks<Q5_K, kquant::encodeQ5_K, kQKK>(in, out, blockCount);
    break;
  case GgmlType::Q6_K:
    quantizeBlocks<Q6_K, kquant::encodeQ6_K, kQKK>(in, out, blockCount);
    break;
  default:
    break;
  }
  return Status::success();
}

} // namespace kiln
