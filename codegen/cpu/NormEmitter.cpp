// RMSNorm and LayerNorm kernels, in llama.cpp's order of operations.

#include "codegen/cpu/KernelContext.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

namespace {

// Sums in double, one term after the other, as llama.cpp's norms do.
Value *sumDouble(Kernel &k, int64_t count,
                 const std::function<Value *(Value *)> &term) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  return k.e.reduce(0, count, ConstantFP::get(b.getDoubleTy(), 0.0),
                    [&](Value *c, Value *acc) {
                      return b.CreateFAdd(acc, b.CreateFPExt(term(c), b.getDoubleTy()));
                    });
}

} // namespace

// Every operation rounded as written (llama.cpp's order), here and in the
// layer norm.
void emitRmsNorm(Kernel &k) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *x = k.arg(0), *w = k.arg(1), *out = k.arg(2);
  int64_t n = k.d.cols;
  Value *scratch = k.d.norm.convert != RowConversion::None ? k.e.scratch(n) : nullptr;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = scratch ? scratch : k.rowPtr(out, t, n);
    Value *sum = sumDouble(k, n, [&](Value *c) {
      Value *v = k.e.loadF32(in, c);
      return b.CreateFMul(v, v);
    });
    Value *mean = b.CreateFPTrunc(
        b.CreateFDiv(sum, ConstantFP::get(b.getDoubleTy(), double(n))), k.e.f32());
    Value *root = b.CreateUnaryIntrinsic(Intrinsic::sqrt,
                                         b.CreateFAdd(mean, k.e.cf(k.d.norm.epsilon)));
    Value *scale = b.CreateFDiv(k.e.cf(1.0f), root);
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFMul(k.e.loadF32(in, c), scale);
      k.e.storeF32(b.CreateFMul(v, k.e.loadF32(w, c)), res, c);
    });
    if (scratch)
      convertNormRow(k, scratch, out, t);
  });
}

void emitLayerNorm(Kernel &k) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *x = k.arg(0), *w = k.arg(1), *bias = k.arg(2), *out = k.arg(3);
  int64_t n = k.d.cols;
  auto *dbl = b.getDoubleTy();
  Value *scratch = k.d.norm.convert != RowConversion::None ? k.e.scratch(n) : nullptr;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = scratch ? scratch : k.rowPtr(out, t, n);
    Value *sum = sumDouble(k, n, [&](Value *c) { return k.e.loadF32(in, c); });
    Value *mean = b.CreateFPTrunc(
        b.CreateFDiv(sum, ConstantFP::get(dbl, double(n))), k.e.f32());
    Value *sum2 = sumDouble(k, n, [&](Value *c) {
      Value *v = b.CreateFSub(k.e.loadF32(in, c), mean);
      return b.CreateFMul(v, v);
    });
    Value *variance = b.CreateFPTrunc(
        b.CreateFDiv(sum2, ConstantFP::get(dbl, double(n))), k.e.f32());
    Value *root = b.CreateUnaryIntrinsic(
        Intrinsic::sqrt, b.CreateFAdd(variance, k.e.cf(k.d.norm.epsilon)));
    Value *scale = b.CreateFDiv(k.e.cf(1.0f), root);
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = b.CreateFMul(b.CreateFSub(k.e.loadF32(in, c), mean), scale);
      v = b.CreateFAdd(b.CreateFMul(v, k.e.loadF32(w, c)), k.e.loadF32(bias, c));
      k.e.storeF32(v, res, c);
    });
    if (scratch)
      convertNormRow(k, scratch, out, t);
  });
}

} // namespace kiln::codegen::cpu
