#include "WeightDecode.h"

using namespace llvm;

namespace kiln::codegen::cpu {

namespace {

// out[base + j] for j in the block.
void store(LoopEmitter &e, Value *value, Value *out, Value *base, Value *j) {
  e.storeF32(value, out, e.b.CreateAdd(base, j));
}

// The simple 32-element formats: one f16 scale (and min), 4- or 5-bit or
// 8-bit quants.
void decodeQ8_0(LoopEmitter &e, Value *block, Value *out, Value *base) {
  Value *d = e.loadHalf(block, e.c64(0));
  e.forRange(0, 32, [&](Value *j) {
    Value *q = e.loadSignedByte(block, e.b.CreateAdd(j, e.c64(2)));
    store(e, e.b.CreateFMul(d, e.toFloat(q)), out, base, j);
  });
}

// Q4_0/Q4_1: byte j holds element j (low nibble) and j+16 (high nibble).
void decodeQ4(LoopEmitter &e, Value *block, Value *out, Value *base,
              bool hasMin) {
  auto &b = e.b;
  Value *d = e.loadHalf(block, e.c64(0));
  Value *m = hasMin ? e.loadHalf(block, e.c64(2)) : nullptr;
  int64_t qs = hasMin ? 4 : 2;
  e.forRange(0, 16, [&](Value *j) {
    Value *byte = e.loadByte(block, b.CreateAdd(j, e.c64(qs)));
    Value *lo = b.CreateAnd(byte, e.c32(15));
    Value *hi = b.CreateLShr(byte, e.c32(4));
    auto value = [&](Value *q) -> Value * {
      if (hasMin)
        return b.CreateFAdd(b.CreateFMul(d, e.toFloat(q)), m);
      return b.CreateFMul(d, e.toFloat(b.CreateSub(q, e.c32(8))));
    };
    store(e, value(lo), out, base, j);
    store(e, value(hi), out, base, b.CreateAdd(j, e.c64(16)));
  });
}

// Q5_0/Q5_1: as Q4, plus a 32-bit word whose bit j is element j's fifth.
void decodeQ5(LoopEmitter &e, Value *block, Value *out, Value *base,
              bool hasMin) {
  auto &b = e.b;
  Value *d = e.loadHalf(block, e.c64(0));
  Value *m = hasMin ? e.loadHalf(block, e.c64(2)) : nullptr;
  int64_t qhAt = hasMin ? 4 : 2, qsAt = qhAt + 4;
  Value *qh = e.loadU32(block, e.c64(qhAt));
  e.forRange(0, 16, [&](Value *j) {
    Value *byte = e.loadByte(block, b.CreateAdd(j, e.c64(qsAt)));
    Value *j32 = b.CreateTrunc(j, e.i32());
    auto fifth = [&](Value *bit) {
      return b.CreateShl(b.CreateAnd(b.CreateLShr(qh, bit), e.c32(1)), e.c32(4));
    };
    Value *lo = b.CreateOr(b.CreateAnd(byte, e.c32(15)), fifth(j32));
    Value *hi = b.CreateOr(b.CreateLShr(byte, e.c32(4)),
                           fifth(b.CreateAdd(j32, e.c32(16))));
    auto value = [&](Value *q) -> Value * {
      if (hasMin)
        return b.CreateFAdd(b.CreateFMul(d, e.toFloat(q)), m);
      return b.CreateFMul(d, e.toFloat(b.CreateSub(q, e.c32(16))));
    };
    store(e, value(lo), out, base, j);
    store(e, value(hi), out, base, b.CreateAdd(j, e.c64(16)));
  });
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

void decodeQ45_K(LoopEmitter &e, Value *block, Value *out, Value *base,
                 bool fiveBit) {
  auto &b = e.b;
  Value *d = e.loadHalf(block, e.c64(0));
  Value *dmin = e.loadHalf(block, e.c64(2));
  Value *scales = e.at(b.getInt8Ty(), block, e.c64(4));
  Value *qh = e.at(b.getInt8Ty(), block, e.c64(16));
  Value *qs = e.at(b.getInt8Ty(), block, e.c64(fiveBit ? 48 : 16));
  e.forRange(0, 8, [&](Value *s) {
    Value *sc, *mn;
    emitQ4KScaleAndMin(e, scales, s, sc, mn);
    Value *scale = b.CreateFMul(d, e.toFloat(sc));
    Value *min = b.CreateFMul(dmin, e.toFloat(mn));
    // Sub-block s: bytes 32*(s/2) .. +32, low nibble for even s.
    Value *byteBase = b.CreateShl(b.CreateLShr(s, e.c64(1)), e.c64(5));
    Value *nibbleShift = b.CreateTrunc(b.CreateShl(b.CreateAnd(s, e.c64(1)), e.c64(2)), e.i32());
    e.forRange(0, 32, [&](Value *l) {
      Value *byte = e.loadByte(qs, b.CreateAdd(byteBase, l));
      Value *q = b.CreateAnd(b.CreateLShr(byte, nibbleShift), e.c32(15));
      if (fiveBit) {
        Value *hbyte = e.loadByte(qh, l);
        Value *bit = b.CreateAnd(b.CreateLShr(hbyte, b.CreateTrunc(s, e.i32())), e.c32(1));
        q = b.CreateOr(q, b.CreateShl(bit, e.c32(4)));
      }
      Value *i = b.CreateAdd(b.CreateShl(s, e.c64(5)), l);
      store(e, b.CreateFSub(b.CreateFMul(scale, e.toFloat(q)), min), out, base, i);
    });
  });
}

void decodeQ6_K(LoopEmitter &e, Value *block, Value *out, Value *base) {
  auto &b = e.b;
  Value *ql = block;
  Value *qh = e.at(b.getInt8Ty(), block, e.c64(128));
  Value *scales = e.at(b.getInt8Ty(), block, e.c64(192));
  Value *d = e.loadHalf(block, e.c64(208));
  // Two halves of 128; element 32k + l of half h: low nibble from
  // ql[64h + l + 32(k%2)] (low for k < 2), high bits qh[32h + l] >> 2k.
  e.forRange(0, 16, [&](Value *s) {
    Value *scale = b.CreateFMul(d, e.toFloat(e.loadSignedByte(scales, s)));
    e.forRange(0, 16, [&](Value *l16) {
      Value *i = b.CreateAdd(b.CreateShl(s, e.c64(4)), l16);
      Value *half = b.CreateLShr(i, e.c64(7));
      Value *within = b.CreateAnd(i, e.c64(127));
      Value *k = b.CreateLShr(within, e.c64(5));
      Value *l = b.CreateAnd(within, e.c64(31));
      Value *lowIndex = b.CreateAdd(b.CreateAdd(b.CreateShl(half, e.c64(6)), l),
                                    b.CreateShl(b.CreateAnd(k, e.c64(1)), e.c64(5)));
      Value *lowShift = b.CreateTrunc(b.CreateShl(b.CreateLShr(k, e.c64(1)), e.c64(2)), e.i32());
      Value *low = b.CreateAnd(b.CreateLShr(e.loadByte(ql, lowIndex), lowShift), e.c32(15));
      Value *highByte = e.loadByte(qh, b.CreateAdd(b.CreateShl(half, e.c64(5)), l));
      Value *high = b.CreateAnd(b.CreateLShr(highByte, b.CreateTrunc(b.CreateShl(k, e.c64(1)), e.i32())),
                                e.c32(3));
      Value *q = b.CreateSub(b.CreateOr(low, b.CreateShl(high, e.c32(4))), e.c32(32));
      store(e, b.CreateFMul(scale, e.toFloat(q)), out, base, i);
    });
  });
}

} // namespace

void emitQ4KScaleAndMin(LoopEmitter &e, Value *scales, Value *s, Value *&scale,
                        Value *&min) {
  auto &b = e.b;
  Value *first = b.CreateICmpULT(s, e.c64(4));
  // s < 4: scales[s] & 63, scales[s+4] & 63
  Value *a = e.loadByte(scales, b.CreateAnd(s, e.c64(3)));           // scales[s%4]
  Value *c = e.loadByte(scales, b.CreateAdd(b.CreateAnd(s, e.c64(3)), e.c64(4)));
  // s >= 4: (scales[s+4] & 15) | (scales[s-4] >> 6) << 4,
  //         (scales[s+4] >> 4) | (scales[s] >> 6) << 4
  Value *hiByte = e.loadByte(scales, b.CreateAdd(b.CreateAnd(s, e.c64(3)), e.c64(8)));
  Value *scaleHigh = b.CreateOr(b.CreateAnd(hiByte, e.c32(15)),
                                b.CreateShl(b.CreateLShr(a, e.c32(6)), e.c32(4)));
  Value *minHigh = b.CreateOr(b.CreateLShr(hiByte, e.c32(4)),
                              b.CreateShl(b.CreateLShr(c, e.c32(6)), e.c32(4)));
  scale = b.CreateSelect(first, b.CreateAnd(a, e.c32(63)), scaleHigh);
  min = b.CreateSelect(first, b.CreateAnd(c, e.c32(63)), minHigh);
}

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
    switch (format) {
    case GgmlType::Q8_0: decodeQ8_0(e, block, out, base); break;
    case GgmlType::Q4_0: decodeQ4(e, block, out, base, false); break;
    case GgmlType::Q4_1: decodeQ4(e, block, out, base, true); break;
    case GgmlType::Q5_0: decodeQ5(e, block, out, base, false); break;
    case GgmlType::Q5_1: decodeQ5(e, block, out, base, true); break;
    case GgmlType::Q2_K: decodeQ2_K(e, block, out, base); break;
    case GgmlType::Q3_K: decodeQ3_K(e, block, out, base); break;
    case GgmlType::Q4_K: decodeQ45_K(e, block, out, base, false); break;
    case GgmlType::Q5_K: decodeQ45_K(e, block, out, base, true); break;
    case GgmlType::Q6_K: decodeQ6_K(e, block, out, base); break;
    default: break; // canDecode() is checked before emission
    }
  });
}

} // namespace kiln::codegen::cpu
