#include "codegen/llvm/GgmlNumerics.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace kiln::codegen::lowering {

Value *emitFma(IRBuilder<> &b, Value *x, Value *y, Value *z) {
  return b.CreateIntrinsic(Intrinsic::fma, {x->getType()}, {x, y, z});
}

Value *emitGgmlExp(IRBuilder<> &b, Value *x) {
  // Every operation rounds as written: no reassociation, no contraction.
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Type *floats = x->getType();
  Type *ints = b.getInt32Ty();
  if (auto *vector = dyn_cast<VectorType>(floats))
    ints = VectorType::get(ints, vector);
  auto f = [&](float v) { return ConstantFP::get(floats, v); };
  auto i = [&](uint32_t v) { return ConstantInt::get(ints, v); };
  auto fma = [&](Value *p, Value *q, Value *r) { return emitFma(b, p, q, r); };
  auto bits = [&](Value *v) { return b.CreateBitCast(v, ints); };
  auto value = [&](Value *v) { return b.CreateBitCast(v, floats); };
  auto magnitude = [&](Value *v) { return b.CreateUnaryIntrinsic(Intrinsic::fabs, v); };

  Value *shifter = f(0x1.8p23f);
  // n = round(x / ln 2) via the shifter; r = x - n ln 2 in two parts.
  Value *z = fma(x, f(0x1.715476p+0f), shifter);
  Value *n = b.CreateFSub(z, shifter);
  Value *r = fma(b.CreateFNeg(n), f(0x1.7f7d1cp-20f),
                 fma(b.CreateFNeg(n), f(0x1.62e4p-1f), x));
  Value *e = b.CreateShl(bits(z), i(23));
  Value *scale = value(b.CreateAdd(e, bits(f(1.0f)))); // 2^n
  Value *r2 = b.CreateFMul(r, r);
  Value *poly = fma(fma(fma(f(0x1.0e4020p-7f), r, f(0x1.573e2ep-5f)), r2,
                        fma(f(0x1.555e66p-3f), r, f(0x1.fffdb6p-2f))),
                    r2, b.CreateFMul(f(0x1.ffffecp-1f), r));
  Value *normal = fma(poly, scale, scale);
  // |n| > 126: 2^n split in two factors; |n| > 192: over- or underflow.
  Value *large = b.CreateFCmpOGT(magnitude(n), f(126.0f));
  Value *huge = b.CreateFCmpOGT(magnitude(n), f(192.0f));
  Value *g = b.CreateSelect(b.CreateFCmpOLE(n, f(0.0f)), i(0x82000000u), i(0));
  Value *s1 = value(b.CreateAdd(g, i(0x7f000000u)));
  Value *s2 = value(b.CreateSub(e, g));
  Value *split = b.CreateFMul(fma(s2, poly, s2), s1);
  return b.CreateSelect(huge, b.CreateFMul(s1, s1),
                        b.CreateSelect(large, split, normal));
}

Value *emitLaneSum(IRBuilder<> &b, Value *lanes8, LaneTree tree) {
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  auto lane = [&](int index) { return b.CreateExtractElement(lanes8, uint64_t(index)); };
  Value *pair[4];
  for (int k = 0; k < 4; ++k)
    pair[k] = b.CreateFAdd(lane(k), lane(k + 4));
  if (tree == LaneTree::Interleaved)
    return b.CreateFAdd(b.CreateFAdd(pair[0], pair[2]), b.CreateFAdd(pair[1], pair[3]));
  return b.CreateFAdd(b.CreateFAdd(pair[0], pair[1]), b.CreateFAdd(pair[2], pair[3]));
}

} // namespace kiln::codegen::lowering
