#include "codegen/llvm/WeightDecode.h"

#include "codegen/llvm/BlockVectors.h"

using namespace llvm;

namespace kiln::codegen::lowering {

namespace {

// out[base + j] for j in the block.
void store(LoopEmitter &e, Value *value, Value *out, Value *base, Value *j) {
  e.storeF32(value, out, e.b.CreateAdd(base, j));
}

// 2-bit quant of element i in the Q2_K/Q3_K layout: halves of 128; byte
// l of a half's 32 holds elements l, l+32, l+64, l+96 at bits 0, 2, 4, 6.
Value *twoBitQuant(LoopEmitter &e, Value *qs, Value *i) {
  auto &b = e.b;
  Value *half = b.CreateLShr(i, e.c64(7));
  Value *within = b.CreateAnd(i, e.c64(127));
  Value *byte = e.loadByte(qs, b.CreateAdd(b.CreateShl(half, e.c64(5)),
                                           b.CreateAnd(within, e.c64(31))));
  Value *shift = b.CreateTrunc(b.CreateShl(b.CreateLShr(within, e.c64(5)), e.c64(1)),
                               e.i32());
  return b.CreateAnd(b.CreateLShr(byte, shift), e.c32(3));
}

void decodeQ2_K(LoopEmitter &e, Value *block, Value *out, Value *base) {
  auto &b = e.b;
  Value *qs = e.at(b.getInt8Ty(), block, e.c64(16));
  Value *d = e.loadHalf(block, e.c64(80));
  Value *dmin = e.loadHalf(block, e.c64(82));
  e.forRange(0, 16, [&](Value *s) {
    Value *packed = e.loadByte(block, s);
    Value *scale = b.CreateFMul(d, e.toFloat(b.CreateAnd(packed, e.c32(15))));
    Value *min = b.CreateFMul(dmin, e.toFloat(b.CreateLShr(packed, e.c32(4))));
    e.forRange(0, 16, [&](Value *l) {
      Value *i = b.CreateAdd(b.CreateShl(s, e.c64(4)), l);
      Value *q = e.toFloat(twoBitQuant(e, qs, i));
      store(e, b.CreateFSub(b.CreateFMul(scale, q), min), out, base, i);
    });
  });
}

void decodeQ3_K(LoopEmitter &e, Value *block, Value *out, Value *base) {
  auto &b = e.b;
  Value *qs = e.at(b.getInt8Ty(), block, e.c64(32));
  Value *scales = e.at(b.getInt8Ty(), block, e.c64(96));
  Value *d = e.loadHalf(block, e.c64(108));
  e.forRange(0, 16, [&](Value *s) {
    // Sixteen 6-bit scales: low nibble from bytes 0..7, high 2 bits from
    // bytes 8..11 (byte 8 + s%4, bit pair s/4); offset by 32.
    Value *lowByte = e.loadByte(scales, b.CreateAnd(s, e.c64(7)));
    Value *lowShift = b.CreateTrunc(b.CreateShl(b.CreateLShr(s, e.c64(3)), e.c64(2)), e.i32());
    Value *low = b.CreateAnd(b.CreateLShr(lowByte, lowShift), e.c32(15));
    Value *highByte = e.loadByte(scales, b.CreateAdd(e.c64(8), b.CreateAnd(s, e.c64(3))));
    Value *highShift = b.CreateTrunc(b.CreateShl(b.CreateLShr(s, e.c64(2)), e.c64(1)), e.i32());
    Value *high = b.CreateAnd(b.CreateLShr(highByte, highShift), e.c32(3));
    Value *sc = b.CreateSub(b.CreateOr(low, b.CreateShl(high, e.c32(4))), e.c32(32));
    Value *scale = b.CreateFMul(d, e.toFloat(sc));
    e.forRange(0, 16, [&](Value *l) {
      Value *i = b.CreateAdd(b.CreateShl(s, e.c64(4)), l);
      // High bit of element i: hmask byte i%32, bit i/32; clear means -4.
      Value *hbyte = e.loadByte(block, b.CreateAnd(i, e.c64(31)));
      Value *hbit = b.CreateAnd(b.CreateLShr(hbyte, b.CreateTrunc(b.CreateLShr(i, e.c64(5)), e.i32())),
                                e.c32(1));
      Value *q = b.CreateSub(twoBitQuant(e, qs, i),
                             b.CreateShl(b.CreateXor(hbit, e.c32(1)), e.c32(2)));
      store(e, b.CreateFMul(scale, e.toFloat(q)), out, base, i);
    });
  });
}

} // namespace

bool canDecode(GgmlType format) {
  switch (format) {
  case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
  case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0:
  case GgmlType::Q5_1: case GgmlType::Q8_0: case GgmlType::Q2_K:
  case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
  case GgmlType::Q6_K:
    return true;
  default:
    return false;
  }
}

int64_t rowBytes(GgmlType format, int64_t count) {
  const GgmlTypeInfo &info = ggmlTypeInfo(format);
  return count / info.blockSize * info.bytesPerBlock;
}

void emitDecodeRow(LoopEmitter &e, GgmlType format, Value *row, Value *out,
                   int64_t count) {
  auto &b = e.b;
  // Formats with block vectors decode through them (one formula per
  // format); the scalar code below covers the rest and rows of f32/f16/bf16
  // that are not whole vectors.
  int64_t vectorElements = vectorBlockElements(format);
  if (hasBlockVectors(format) && count % vectorElements == 0) {
    int64_t vectorBytes = rowBytes(format, vectorElements);
    e.forRange(0, count / vectorElements, [&](Value *blockIndex) {
      Value *block = e.at(b.getInt8Ty(), row, b.CreateMul(blockIndex, e.c64(vectorBytes)));
      Value *base = b.CreateMul(blockIndex, e.c64(vectorElements));
      emitBlockVectors(e, format, block, [&](Value *values, Value *offset, unsigned) {
        b.CreateAlignedStore(values, e.at(e.f32(), out, b.CreateAdd(base, offset)),
                             Align(4));
      });
    });
    return;
  }
  if (format == GgmlType::F32 || format == GgmlType::F16 ||
      format == GgmlType::BF16) {
    e.forRange(0, count, [&](Value *i) {
      Value *value;
      if (format == GgmlType::F32) {
        value = e.loadF32(row, i);
      } else if (format == GgmlType::F16) {
        value = e.loadHalf(row, b.CreateShl(i, e.c64(1)));
      } else {
        Value *bits = b.CreateLoad(b.getInt16Ty(), e.at(b.getInt16Ty(), row, i));
        value = b.CreateBitCast(b.CreateShl(b.CreateZExt(bits, e.i32()), e.c32(16)),
                                e.f32());
      }
      e.storeF32(value, out, i);
    });
    return;
  }
  const GgmlTypeInfo &info = ggmlTypeInfo(format);
  e.forRange(0, count / info.blockSize, [&](Value *blockIndex) {
    Value *block = e.at(b.getInt8Ty(), row,
                        b.CreateMul(blockIndex, e.c64(info.bytesPerBlock)));
    Value *base = b.CreateMul(blockIndex, e.c64(info.blockSize));
    if (format == GgmlType::Q2_K)
      decodeQ2_K(e, block, out, base);
    else if (format == GgmlType::Q3_K)
      decodeQ3_K(e, block, out, base);
    // canDecode() is checked before emission.
  });
}

} // namespace kiln::codegen::lowering
