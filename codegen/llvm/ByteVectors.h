// Byte-vector arithmetic for the integer dot products (IntegerDot.cpp,
// PackedKQuantDot.cpp): loading and unpacking quants, multiplying bytes into
// exact integer sums through the target's byte instructions (ByteDotHooks)
// or, without hooks, generic vector IR that computes the same integers.
#pragma once

#include "codegen/llvm/IntegerDot.h"

namespace kiln::codegen::lowering {

struct ByteVectors {
  LoopEmitter &e;
  llvm::IRBuilder<> &b;
  const ByteDotHooks *hooks;

  llvm::Type *bytes(unsigned n) { return llvm::FixedVectorType::get(b.getInt8Ty(), n); }
  llvm::Type *shorts(unsigned n) { return llvm::FixedVectorType::get(b.getInt16Ty(), n); }
  llvm::Type *ints(unsigned n) { return llvm::FixedVectorType::get(b.getInt32Ty(), n); }

  llvm::Value *load(llvm::Value *base, llvm::Value *offset, unsigned n = 32) {
    return b.CreateAlignedLoad(bytes(n), e.at(b.getInt8Ty(), base, offset), llvm::Align(1));
  }
  llvm::Value *splat(int value, unsigned n = 32) {
    return b.CreateVectorSplat(n, b.getInt8(value));
  }
  // 32 copies of the integer `value` (< 256) as bytes.
  llvm::Value *splat(llvm::Value *value) {
    return b.CreateVectorSplat(32, b.CreateTrunc(value, b.getInt8Ty()));
  }
  llvm::Value *shuffle(llvm::Value *x, llvm::Value *y, llvm::ArrayRef<int> mask) {
    return b.CreateShuffleVector(x, y, mask);
  }
  // x's lanes then y's (same type).
  llvm::Value *concat(llvm::Value *x, llvm::Value *y) {
    llvm::SmallVector<int, 64> lanes;
    unsigned n = llvm::cast<llvm::FixedVectorType>(x->getType())->getNumElements();
    for (unsigned i = 0; i < 2 * n; ++i)
      lanes.push_back(int(i));
    return shuffle(x, y, lanes);
  }
  // The low (h = 0) or high half of x's lanes.
  llvm::Value *half(llvm::Value *x, int h) {
    unsigned n = llvm::cast<llvm::FixedVectorType>(x->getType())->getNumElements() / 2;
    llvm::SmallVector<int, 32> lanes;
    for (unsigned i = 0; i < n; ++i)
      lanes.push_back(int(h * n + i));
    return shuffle(x, x, lanes);
  }

  // 16 bytes holding elements j (low nibble) and j + 16 (high): 32 values.
  llvm::Value *nibbles(llvm::Value *base, llvm::Value *offset) {
    llvm::Value *packed = load(base, offset, 16);
    llvm::Value *lo = b.CreateAnd(packed, splat(15, 16));
    llvm::Value *hi = b.CreateLShr(packed, splat(4, 16));
    llvm::SmallVector<int, 32> concat;
    for (int i = 0; i < 32; ++i)
      concat.push_back(i);
    return shuffle(lo, hi, concat);
  }
  // 16 where bit j of the 32-bit word at `offset` is set, else 0.
  llvm::Value *fifthBits(llvm::Value *base, llvm::Value *offset) {
    llvm::Value *word = b.CreateBitCast(e.loadU32(base, offset), bytes(4));
    llvm::SmallVector<int, 32> spread;
    llvm::SmallVector<llvm::Constant *, 32> masks;
    for (int j = 0; j < 32; ++j) {
      spread.push_back(j / 8);
      masks.push_back(b.getInt8(uint8_t(1u << (j % 8))));
    }
    llvm::Value *spreadBytes = shuffle(word, llvm::PoisonValue::get(bytes(4)), spread);
    llvm::Value *set = b.CreateICmpNE(b.CreateAnd(spreadBytes, llvm::ConstantVector::get(masks)),
                                splat(0));
    return b.CreateSelect(set, splat(16), splat(0));
  }

  // sum over groups of 4 lanes: lane i = u[4i..4i+3] . a[4i..4i+3], each
  // product pair (2i, 2i+1) times scale16[i] (ones when null). u unsigned
  // (< 128 here), a signed; no pair sum reaches 2^15, so a saturating byte
  // multiply-add (vpmaddubsw) gives the same ints as the generic form.
  llvm::Value *dotUnsigned(llvm::Value *u, llvm::Value *a, llvm::Value *scale16) {
    if (!scale16)
      scale16 = b.CreateVectorSplat(16, b.getInt16(1));
    if (hooks)
      return hooks->dotUnsigned(b, u, a, scale16);
    return genericDot(b.CreateZExt(u, ints(32)), a, scale16);
  }
  // The same with signed weights w.
  llvm::Value *dotSigned(llvm::Value *w, llvm::Value *a, llvm::Value *scale16) {
    if (!scale16)
      scale16 = b.CreateVectorSplat(16, b.getInt16(1));
    if (hooks)
      return hooks->dotSigned(b, w, a, scale16);
    return genericDot(b.CreateSExt(w, ints(32)), a, scale16);
  }
  // u[2i] a[2i] + u[2i+1] a[2i+1] in 16 bits (u unsigned, a signed).
  llvm::Value *pairSums(llvm::Value *u, llvm::Value *a) {
    if (hooks)
      return hooks->pairSums(b, u, a);
    llvm::Value *products = b.CreateMul(b.CreateZExt(u, shorts(32)), b.CreateSExt(a, shorts(32)));
    return addAdjacent(products, 16);
  }
  // 16 i16 -> 8 i32 sums of adjacent lanes.
  llvm::Value *widenPairs(llvm::Value *x) {
    if (hooks)
      return hooks->widenPairs(b, x);
    return addAdjacent(b.CreateSExt(x, ints(16)), 8);
  }
  // acc (8 or 16 i32) + lane i = u[4i..4i+3] . a[4i..4i+3], u unsigned,
  // a signed, no pair sum reaching 2^15: one instruction where the target
  // has it at this width (vpdpbusd), else 32 bytes at a time, else pair
  // sums widened. The integers are the same either way.
  llvm::Value *quadSums(llvm::Value *acc, llvm::Value *u, llvm::Value *a) {
    unsigned n = llvm::cast<llvm::FixedVectorType>(acc->getType())->getNumElements();
    if (hooks && (n == 8 ? hooks->hasQuadDots() : hooks->hasWideQuadDots()))
      return hooks->quadDots(b, acc, u, a);
    if (n == 16)
      return concat(quadSums(half(acc, 0), half(u, 0), half(a, 0)),
                    quadSums(half(acc, 1), half(u, 1), half(a, 1)));
    return b.CreateAdd(acc, widenPairs(pairSums(u, a)));
  }
  // Whether quadSums has the target's four-byte dot (vpdpbusd) at some
  // width: signed weights then go to it biased by 128 (its first operand
  // is unsigned), else through signedQuadSums.
  bool hasQuadSums() const { return hooks && hooks->hasQuadDots(); }
  // acc (8 or 16 i32) + lane i = w[4i..4i+3] . a[4i..4i+3], both signed,
  // 32 bytes at a time through dotSigned.
  llvm::Value *signedQuadSums(llvm::Value *acc, llvm::Value *w, llvm::Value *a) {
    unsigned n = llvm::cast<llvm::FixedVectorType>(acc->getType())->getNumElements();
    if (n == 16)
      return concat(signedQuadSums(half(acc, 0), half(w, 0), half(a, 0)),
                    signedQuadSums(half(acc, 1), half(w, 1), half(a, 1)));
    return b.CreateAdd(acc, dotSigned(w, a, nullptr));
  }
  llvm::Value *addAdjacent(llvm::Value *x, int half) {
    llvm::SmallVector<int, 16> even, odd;
    for (int i = 0; i < half; ++i)
      even.push_back(2 * i), odd.push_back(2 * i + 1);
    return b.CreateAdd(shuffle(x, x, even), shuffle(x, x, odd));
  }
  llvm::Value *genericDot(llvm::Value *wide, llvm::Value *a, llvm::Value *scale16) {
    llvm::Value *products = b.CreateMul(wide, b.CreateSExt(a, ints(32)));
    llvm::SmallVector<int, 32> pairScale;
    for (int i = 0; i < 32; ++i)
      pairScale.push_back(i / 2);
    llvm::Value *scales = b.CreateSExt(scale16, ints(16));
    products = b.CreateMul(products, shuffle(scales, scales, pairScale));
    llvm::Value *sum = nullptr;
    for (int j = 0; j < 4; ++j) {
      llvm::SmallVector<int, 8> lanes;
      for (int i = 0; i < 8; ++i)
        lanes.push_back(4 * i + j);
      llvm::Value *part = shuffle(products, products, lanes);
      sum = sum ? b.CreateAdd(sum, part) : part;
    }
    return sum;
  }
};

} // namespace kiln::codegen::lowering
