#include "codegen/llvm/BlockVectors.h"

using namespace llvm;

namespace kiln::codegen::lowering {

namespace {

struct Vec {
  LoopEmitter &e;
  IRBuilder<> &b;
  explicit Vec(LoopEmitter &emitter) : e(emitter), b(emitter.b) {}

  Type *bytes(unsigned n) { return FixedVectorType::get(b.getInt8Ty(), n); }
  Type *ints(unsigned n) { return FixedVectorType::get(b.getInt32Ty(), n); }
  Type *floats(unsigned n) { return FixedVectorType::get(b.getFloatTy(), n); }

  Value *loadBytes(Value *base, Value *offset, unsigned n) {
    return b.CreateAlignedLoad(bytes(n), e.at(b.getInt8Ty(), base, offset),
                               Align(1));
  }
  Value *splat(Value *scalar, unsigned n = kLanes) {
    return b.CreateVectorSplat(n, scalar);
  }
  Value *splatInt(int32_t value, unsigned n = kLanes) {
    return splat(b.getInt32(value), n);
  }
  // Unsigned bytes widened to i32 lanes.
  Value *widen(Value *byteVector) {
    unsigned n = cast<FixedVectorType>(byteVector->getType())->getNumElements();
    return b.CreateZExt(byteVector, ints(n));
  }
  Value *toFloats(Value *intVector) {
    unsigned n = cast<FixedVectorType>(intVector->getType())->getNumElements();
    return b.CreateSIToFP(intVector, floats(n));
  }
  // Lanes [first, first + 16) of a wider vector.
  Value *part(Value *vector, unsigned first) {
    SmallVector<int, kLanes> mask;
    for (unsigned i = 0; i < kLanes; ++i)
      mask.push_back(first + i);
    return b.CreateShuffleVector(vector, mask);
  }
  // <0, 1, ..., 15> as i32 lanes.
  Value *laneIndex() {
    SmallVector<Constant *, kLanes> lanes;
    for (unsigned i = 0; i < kLanes; ++i)
      lanes.push_back(b.getInt32(i));
    return ConstantVector::get(lanes);
  }
};

// Blocks whose quants are scaled by one f16 `d` (and offset by `m`).
void scaled(Vec &v, Value *quants, Value *d, Value *m, unsigned group,
            Value *offset, const VectorSink &sink) {
  Value *values = v.b.CreateFMul(v.toFloats(quants), v.splat(d));
  if (m)
    values = v.b.CreateFAdd(values, v.splat(m));
  sink(values, offset, group);
}

void q8_0(Vec &v, Value *block, const VectorSink &sink) {
  Value *d = v.e.loadHalf(block, v.e.c64(0));
  Value *q = v.b.CreateSExt(v.loadBytes(block, v.e.c64(2), 32), v.ints(32));
  scaled(v, v.part(q, 0), d, nullptr, 0, v.e.c64(0), sink);
  scaled(v, v.part(q, 16), d, nullptr, 1, v.e.c64(16), sink);
}

// Q4_0/Q4_1/Q5_0/Q5_1: byte j holds element j (low nibble) and j + 16
// (high); Q5 adds bit j / j + 16 of a 32-bit word as the fifth bit.
void simple(Vec &v, Value *block, bool hasMin, bool fiveBit,
            const VectorSink &sink) {
  auto &b = v.b;
  Value *d = v.e.loadHalf(block, v.e.c64(0));
  Value *m = hasMin ? v.e.loadHalf(block, v.e.c64(2)) : nullptr;
  int64_t at = hasMin ? 4 : 2;
  Value *high = nullptr;
  if (fiveBit) {
    high = v.splat(v.e.loadU32(block, v.e.c64(at)));
    at += 4;
  }
  Value *bytes = v.widen(v.loadBytes(block, v.e.c64(at), 16));
  Value *lo = b.CreateAnd(bytes, v.splatInt(15));
  Value *hi = b.CreateLShr(bytes, v.splatInt(4));
  if (fiveBit) {
    auto fifth = [&](int32_t first) {
      Value *shift = b.CreateAdd(v.laneIndex(), v.splatInt(first));
      Value *bit = b.CreateAnd(b.CreateLShr(high, shift), v.splatInt(1));
      return b.CreateShl(bit, v.splatInt(4));
    };
    lo = b.CreateOr(lo, fifth(0));
    hi = b.CreateOr(hi, fifth(16));
  }
  if (!hasMin) {
    Value *bias = v.splatInt(fiveBit ? 16 : 8);
    lo = b.CreateSub(lo, bias);
    hi = b.CreateSub(hi, bias);
  }
  scaled(v, lo, d, m, 0, v.e.c64(0), sink);
  scaled(v, hi, d, m, 1, v.e.c64(16), sink);
}

// Q4_K/Q5_K: eight sub-blocks of 32 with 6-bit scales and mins packed in
// 12 bytes; sub-block s reads bytes 32 (s / 2) ... with the low nibble for
// even s; Q5_K adds bit s of qh[l] as the fifth bit.
void q45_K(Vec &v, Value *block, bool fiveBit, const VectorSink &sink) {
  auto &b = v.b;
  LoopEmitter &e = v.e;
  Value *d = e.loadHalf(block, e.c64(0));
  Value *dmin = e.loadHalf(block, e.c64(2));
  Value *scales = e.at(b.getInt8Ty(), block, e.c64(4));
  Value *qh = e.at(b.getInt8Ty(), block, e.c64(16));
  Value *qs = e.at(b.getInt8Ty(), block, e.c64(fiveBit ? 48 : 16));
  e.forRange(0, 8, [&](Value *s) {
    Value *sc, *mn;
    emitQ4KScaleAndMin(e, scales, s, sc, mn);
    Value *scale = v.splat(b.CreateFMul(d, e.toFloat(sc)));
    Value *min = v.splat(b.CreateFMul(dmin, e.toFloat(mn)));
    Value *byteBase = b.CreateShl(b.CreateLShr(s, e.c64(1)), e.c64(5));
    Value *shift = v.splat(b.CreateTrunc(b.CreateShl(b.CreateAnd(s, e.c64(1)), e.c64(2)),
                                         e.i32()));
    for (unsigned half = 0; half < 2; ++half) {
      Value *bytes = v.widen(v.loadBytes(qs, b.CreateAdd(byteBase, e.c64(16 * half)), 16));
      Value *q = b.CreateAnd(b.CreateLShr(bytes, shift), v.splatInt(15));
      if (fiveBit) {
        Value *hb = v.widen(v.loadBytes(qh, e.c64(16 * half), 16));
        Value *bit = b.CreateAnd(b.CreateLShr(hb, v.splat(b.CreateTrunc(s, e.i32()))),
                                 v.splatInt(1));
        q = b.CreateOr(q, b.CreateShl(bit, v.splatInt(4)));
      }
      Value *values = b.CreateFSub(b.CreateFMul(scale, v.toFloats(q)), min);
      Value *offset = b.CreateAdd(b.CreateShl(s, e.c64(5)), e.c64(16 * half));
      sink(values, offset, half);
    }
  });
}

// Q6_K: sixteen groups of 16 with int8 scales. Element 32k + l of half h
// takes its low nibble from ql[64h + l + 32(k%2)] (low for k < 2) and its
// high two bits from qh[32h + l] >> 2k; a group is 16 consecutive l.
void q6_K(Vec &v, Value *block, const VectorSink &sink) {
  auto &b = v.b;
  LoopEmitter &e = v.e;
  Value *ql = block;
  Value *qh = e.at(b.getInt8Ty(), block, e.c64(128));
  Value *scales = e.at(b.getInt8Ty(), block, e.c64(192));
  Value *d = e.loadHalf(block, e.c64(208));
  e.forRange(0, 16, [&](Value *s) {
    Value *scale = v.splat(b.CreateFMul(d, e.toFloat(e.loadSignedByte(scales, s))));
    Value *half = b.CreateLShr(s, e.c64(3));
    Value *inHalf = b.CreateAnd(s, e.c64(7));       // group within the half
    Value *k = b.CreateLShr(inHalf, e.c64(1));      // quarter: 0..3
    Value *l = b.CreateShl(b.CreateAnd(inHalf, e.c64(1)), e.c64(4)); // 0 or 16
    Value *lowAt = b.CreateAdd(b.CreateAdd(b.CreateShl(half, e.c64(6)), l),
                               b.CreateShl(b.CreateAnd(k, e.c64(1)), e.c64(5)));
    Value *lowShift = v.splat(b.CreateTrunc(b.CreateShl(b.CreateLShr(k, e.c64(1)), e.c64(2)), e.i32()));
    Value *highAt = b.CreateAdd(b.CreateShl(half, e.c64(5)), l);
    Value *highShift = v.splat(b.CreateTrunc(b.CreateShl(k, e.c64(1)), e.i32()));
    Value *low = b.CreateAnd(b.CreateLShr(v.widen(v.loadBytes(ql, lowAt, 16)), lowShift),
                             v.splatInt(15));
    Value *high = b.CreateAnd(b.CreateLShr(v.widen(v.loadBytes(qh, highAt, 16)), highShift),
                              v.splatInt(3));
    Value *q = b.CreateSub(b.CreateOr(low, b.CreateShl(high, v.splatInt(4))),
                           v.splatInt(32));
    sink(b.CreateFMul(scale, v.toFloats(q)), b.CreateShl(s, e.c64(4)), 0);
  });
}

// f32/f16/bf16: a "block" is one vector of 16 elements.
void plain(Vec &v, GgmlType format, Value *block, const VectorSink &sink) {
  auto &b = v.b;
  Value *values;
  if (format == GgmlType::F32) {
    values = b.CreateAlignedLoad(v.floats(kLanes), block, Align(4));
  } else if (format == GgmlType::F16) {
    auto *halves = FixedVectorType::get(b.getHalfTy(), kLanes);
    values = b.CreateFPExt(b.CreateAlignedLoad(halves, block, Align(2)),
                           v.floats(kLanes));
  } else {
    auto *shorts = FixedVectorType::get(b.getInt16Ty(), kLanes);
    Value *bits = b.CreateZExt(b.CreateAlignedLoad(shorts, block, Align(2)),
                               v.ints(kLanes));
    values = b.CreateBitCast(b.CreateShl(bits, v.splatInt(16)), v.floats(kLanes));
  }
  sink(values, v.e.c64(0), 0);
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

bool hasBlockVectors(GgmlType format) {
  switch (format) {
  case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
  case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1:
  case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q4_K:
  case GgmlType::Q5_K: case GgmlType::Q6_K:
    return true;
  default:
    return false;
  }
}

int64_t vectorBlockElements(GgmlType format) {
  const GgmlTypeInfo &info = ggmlTypeInfo(format);
  return info.blockSize == 1 ? kLanes : info.blockSize;
}

void emitBlockVectors(LoopEmitter &e, GgmlType format, Value *block,
                      const VectorSink &sink) {
  Vec v(e);
  switch (format) {
  case GgmlType::F32:
  case GgmlType::F16:
  case GgmlType::BF16: plain(v, format, block, sink); break;
  case GgmlType::Q8_0: q8_0(v, block, sink); break;
  case GgmlType::Q4_0: simple(v, block, false, false, sink); break;
  case GgmlType::Q4_1: simple(v, block, true, false, sink); break;
  case GgmlType::Q5_0: simple(v, block, false, true, sink); break;
  case GgmlType::Q5_1: simple(v, block, true, true, sink); break;
  case GgmlType::Q4_K: q45_K(v, block, false, sink); break;
  case GgmlType::Q5_K: q45_K(v, block, true, sink); break;
  case GgmlType::Q6_K: q6_K(v, block, sink); break;
  default: break; // hasBlockVectors() is checked first
  }
}

} // namespace kiln::codegen::lowering
