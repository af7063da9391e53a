// Kernels that put activations in the form the matmuls after them read:
// rounded to f16/bf16 or q8 and back, or quantized to q8 blocks for the
// integer dot products; also the same conversion fused into a norm.

#include "codegen/cpu/KernelContext.h"

#include "codegen/QuantizedActivations.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

namespace {

// The scale of one q8 block of `block` floats at in[base...], as llama.cpp
// quantizes activations. q8_0 (x86 SIMD path): d = amax / 127, stored as
// f16, q = round-half-even(x * 127 / amax). q8_K: the value of largest
// magnitude (the first, sign kept) maps to -127, q = min(127,
// round-half-even(x * -127 / max)), d = 1 / that multiplier, in f32.
struct Q8Scale {
  Value *multiplier; // q = round(x * multiplier)
  Value *step;       // value = q * step (the stored d)
  Value *unrounded;  // q8_0: d before f16 rounding; q8_K: null
};

Q8Scale emitQ8BlockScale(Kernel &k, Value *in, Value *base, int64_t block, bool kBlocks) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  auto at = [&](Value *j) { return b.CreateAdd(base, j); };
  if (!kBlocks) {
    Value *amax = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
      return b.CreateMaxNum(m, b.CreateUnaryIntrinsic(Intrinsic::fabs, e.loadF32(in, at(j))));
    });
    Value *d = b.CreateFDiv(amax, e.cf(127.0f));
    Value *nonzero = b.CreateFCmpONE(amax, e.cf(0.0f));
    return {b.CreateSelect(nonzero, b.CreateFDiv(e.cf(127.0f), amax), e.cf(0.0f)),
            b.CreateFPExt(b.CreateFPTrunc(d, b.getHalfTy()), e.f32()), d};
  }
  Value *extreme = e.reduce(0, block, e.cf(0.0f), [&](Value *j, Value *m) {
    Value *v = e.loadF32(in, at(j));
    Value *larger = b.CreateFCmpOGT(b.CreateUnaryIntrinsic(Intrinsic::fabs, v),
                                    b.CreateUnaryIntrinsic(Intrinsic::fabs, m));
    return b.CreateSelect(larger, v, m);
  });
  Value *nonzero = b.CreateFCmpONE(extreme, e.cf(0.0f));
  Value *inverse = b.CreateFDiv(e.cf(-127.0f), extreme);
  return {b.CreateSelect(nonzero, inverse, e.cf(0.0f)),
          b.CreateSelect(nonzero, b.CreateFDiv(e.cf(1.0f), inverse), e.cf(0.0f)), nullptr};
}

// Each row as llama.cpp's dot products see it, in f32: rounded to f16 or
// bf16, or quantized to q8 blocks (emitQ8BlockScale) and dequantized again.
void roundRow(Kernel &k, Value *in, Value *res, int64_t n, GgmlType format) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  auto roundEven = [&](Value *v) {
    return b.CreateUnaryIntrinsic(Intrinsic::roundeven, v);
  };
  if (format == GgmlType::F16) {
    e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFPExt(b.CreateFPTrunc(e.loadF32(in, c), b.getHalfTy()), e.f32());
      e.storeF32(v, res, c);
    });
    return;
  }
  if (format == GgmlType::BF16) {
    // ggml's f32 -> bf16 in integers (an LLVM fptrunc to bfloat would call
    // a compiler-rt routine the JIT does not have): round to nearest
    // even on the upper 16 bits; NaNs stay NaN, made quiet.
    e.forRange(0, n, [&](Value *c) {
      Value *bits = b.CreateBitCast(e.loadF32(in, c), e.i32());
      Value *isNan = b.CreateICmpUGT(b.CreateAnd(bits, e.c32(0x7fffffff)),
                                     e.c32(0x7f800000));
      Value *lsb = b.CreateAnd(b.CreateLShr(bits, e.c32(16)), e.c32(1));
      Value *rounded = b.CreateAdd(bits, b.CreateAdd(e.c32(0x7fff), lsb));
      Value *upper = b.CreateSelect(isNan, b.CreateOr(bits, e.c32(0x400000)), rounded);
      Value *truncated = b.CreateAnd(upper, e.c32(int32_t(0xffff0000u)));
      e.storeF32(b.CreateBitCast(truncated, e.f32()), res, c);
    });
    return;
  }
  bool kBlocks = format == GgmlType::Q8_K;
  int64_t block = kBlocks ? 256 : 32;
  e.forRange(0, n / block, [&](Value *blockIndex) {
    Value *base = b.CreateMul(blockIndex, e.c64(block));
    auto at = [&](Value *j) { return b.CreateAdd(base, j); };
    Q8Scale q8 = emitQ8BlockScale(k, in, base, block, kBlocks);
    Value *scale = q8.multiplier, *step = q8.step;
    e.forRange(0, block, [&](Value *j) {
      Value *q = roundEven(b.CreateFMul(e.loadF32(in, at(j)), scale));
      if (kBlocks)
        q = b.CreateMinNum(q, e.cf(127.0f));
      e.storeF32(b.CreateFMul(q, step), res, at(j));
    });
  });
}

} // namespace

void emitRoundActivations(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    roundRow(k, k.rowPtr(x, t, n), k.rowPtr(out, t, n), n, k.d.format);
  });
}

namespace {

// Each row quantized to q8 blocks for integer dot products, as llama.cpp
// quantizes it (emitQ8BlockScale), in the layout of
// QuantizedActivations.h: bytes, scales, then q8_1's s = f16(d * sum q) per
// 32 (d before f16 rounding) or q8_K's sums per 16.
// `row` receives the quantized row (layout of QuantizedActivations.h).
void quantizeRow(Kernel &k, Value *in, Value *row, int64_t n, GgmlType format) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  bool kBlocks = format == GgmlType::Q8_K;
  QuantizedRowLayout layout = quantizedRowLayout(format, n);
  int64_t block = layout.block;
  Value *scales = e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset));
  Value *extra = e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset));
  e.forRange(0, n / block, [&](Value *blockIndex) {
    Value *base = b.CreateMul(blockIndex, e.c64(block));
    auto at = [&](Value *j) { return b.CreateAdd(base, j); };
    Q8Scale q8 = emitQ8BlockScale(k, in, base, block, kBlocks);
    Value *scale = q8.multiplier, *stored = q8.step, *unrounded = q8.unrounded;
    e.storeF32(stored, scales, blockIndex);
    // Quantize in groups of 16: q8_K keeps each group's sum, q8_0 the
    // block's as s = f16(d * sum).
    Value *blockSum = e.reduce(0, block / 16, e.c32(0), [&](Value *group, Value *total) {
      Value *groupBase = b.CreateMul(group, e.c64(16));
      Value *sum = e.reduce(0, 16, e.c32(0), [&](Value *j, Value *acc) {
        Value *i = at(b.CreateAdd(groupBase, j));
        Value *q = b.CreateUnaryIntrinsic(Intrinsic::roundeven,
                                          b.CreateFMul(e.loadF32(in, i), scale));
        if (kBlocks)
          q = b.CreateMinNum(q, e.cf(127.0f));
        Value *qi = b.CreateFPToSI(q, e.i32());
        b.CreateStore(b.CreateTrunc(qi, b.getInt8Ty()), e.at(b.getInt8Ty(), row, i));
        return b.CreateAdd(acc, qi);
      });
      if (kBlocks) {
        Value *index = b.CreateAdd(b.CreateMul(blockIndex, e.c64(block / 16)), group);
        b.CreateStore(sum, e.at(e.i32(), extra, index));
      }
      return b.CreateAdd(total, sum);
    });
    if (!kBlocks) {
      Value *s = b.CreateFMul(unrounded, e.toFloat(blockSum));
      s = b.CreateFPExt(b.CreateFPTrunc(s, b.getHalfTy()), e.f32());
      e.storeF32(s, extra, blockIndex);
    }
  });
}

} // namespace

void emitQuantizeActivations(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  int64_t rowBytes = quantizedRowLayout(k.d.format, n).rowBytes;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *row = k.e.at(b.getInt8Ty(), out, b.CreateMul(t, k.e.c64(rowBytes)));
    quantizeRow(k, k.rowPtr(x, t, n), row, n, k.d.format);
  });
}

// A norm fused into the matmuls after it writes row t as they read it:
// rounded or quantized from the normalized row in `scratch`.
void convertNormRow(Kernel &k, Value *scratch, Value *out, Value *t) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  FastMathFlags flags;
  flags.setAllowReassoc();
  flags.setAllowContract();
  b.setFastMathFlags(flags);
  int64_t n = k.d.cols;
  if (k.d.norm.convert == RowConversion::Round) {
    roundRow(k, scratch, k.rowPtr(out, t, n), n, k.d.format);
    return;
  }
  int64_t bytes = quantizedRowLayout(k.d.format, n).rowBytes;
  quantizeRow(k, scratch, k.e.at(b.getInt8Ty(), out, b.CreateMul(t, k.e.c64(bytes))), n,
              k.d.format);
}

} // namespace kiln::codegen::cpu
