#include "codegen/cpu/X86ByteDots.h"

#include "llvm/IR/IntrinsicsX86.h"

using namespace llvm;

namespace kiln::codegen::cpu {

namespace {

bool isSplatOne(Value *x) {
  auto *constant = dyn_cast<Constant>(x);
  auto *splat = constant ? dyn_cast_or_null<ConstantInt>(constant->getSplatValue()) : nullptr;
  return splat && splat->isOne();
}

bool isWide(Value *bytes) {
  return cast<FixedVectorType>(bytes->getType())->getNumElements() == 64;
}

} // namespace

Value *X86ByteDots::quadDots(IRBuilder<> &b, Value *acc, Value *u, Value *a) const {
  auto *ints = cast<FixedVectorType>(acc->getType());
  const bool wide = ints->getNumElements() == 16;
  assert(wide ? wideVnni_ : vnni_);
  return b.CreateIntrinsic(wide ? Intrinsic::x86_avx512_vpdpbusd_512
                                : Intrinsic::x86_avx512_vpdpbusd_256,
                           {}, {acc, b.CreateBitCast(u, ints), b.CreateBitCast(a, ints)});
}

Value *X86ByteDots::dotUnsigned(IRBuilder<> &b, Value *u, Value *a, Value *scale16) const {
  if (isWide(u)) {
    assert(wide_);
    if (wideVnni_ && isSplatOne(scale16))
      return quadDots(b, ConstantAggregateZero::get(FixedVectorType::get(b.getInt32Ty(), 16)),
                      u, a);
    Value *pairs = b.CreateIntrinsic(Intrinsic::x86_avx512_pmaddubs_w_512, {}, {u, a});
    return b.CreateIntrinsic(Intrinsic::x86_avx512_pmaddw_d_512, {}, {pairs, scale16});
  }
  if (hasQuadDots() && isSplatOne(scale16))
    return quadDots(b, ConstantAggregateZero::get(FixedVectorType::get(b.getInt32Ty(), 8)),
                    u, a);
  Value *pairs = b.CreateIntrinsic(Intrinsic::x86_avx2_pmadd_ub_sw, {}, {u, a});
  return b.CreateIntrinsic(Intrinsic::x86_avx2_pmadd_wd, {}, {pairs, scale16});
}

Value *X86ByteDots::dotSigned(IRBuilder<> &b, Value *w, Value *a, Value *scale16) const {
  Value *magnitude = b.CreateBinaryIntrinsic(Intrinsic::abs, w, b.getFalse());
  Value *signedA;
  if (isWide(w)) {
    // a where w > 0, -a (wrapping, as vpsignb) where w < 0; where w is 0
    // the product is 0 either way.
    Value *zero = ConstantAggregateZero::get(a->getType());
    signedA = b.CreateSelect(b.CreateICmpSLT(w, zero), b.CreateSub(zero, a), a);
  } else {
    signedA = b.CreateIntrinsic(Intrinsic::x86_avx2_psign_b, {}, {a, w});
  }
  return dotUnsigned(b, magnitude, signedA, scale16);
}

Value *X86ByteDots::pairSums(IRBuilder<> &b, Value *u, Value *a) const {
  return b.CreateIntrinsic(Intrinsic::x86_avx2_pmadd_ub_sw, {}, {u, a});
}

Value *X86ByteDots::widenPairs(IRBuilder<> &b, Value *x) const {
  return b.CreateIntrinsic(Intrinsic::x86_avx2_pmadd_wd, {},
                           {x, b.CreateVectorSplat(16, b.getInt16(1))});
}

Value *X86ByteDots::columnTotals(IRBuilder<> &b, ArrayRef<Value *> sums) const {
  // vphaddd adds pairs within 128-bit halves: two rounds leave columns
  // 0-3 (4-7) as [low-half sums | high-half sums]; swap halves and add.
  auto hadd = [&](Value *x, Value *y) {
    return b.CreateIntrinsic(Intrinsic::x86_avx2_phadd_d, {}, {x, y});
  };
  Value *h0123 = hadd(hadd(sums[0], sums[1]), hadd(sums[2], sums[3]));
  Value *h4567 = hadd(hadd(sums[4], sums[5]), hadd(sums[6], sums[7]));
  Value *low = b.CreateShuffleVector(h0123, h4567, ArrayRef<int>{0, 1, 2, 3, 8, 9, 10, 11});
  Value *high = b.CreateShuffleVector(h0123, h4567, ArrayRef<int>{4, 5, 6, 7, 12, 13, 14, 15});
  return b.CreateAdd(low, high);
}

} // namespace kiln::codegen::cpu
