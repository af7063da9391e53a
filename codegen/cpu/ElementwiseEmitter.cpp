// Kernels that work row by row, element by element: embedding lookup,
// positions, add/mul, SiLU/GELU/softmax, column slices and the last row.

#include "codegen/cpu/KernelContext.h"

#include "codegen/llvm/GgmlNumerics.h"
#include "codegen/llvm/WeightDecode.h"

#include <cmath>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

void emitEmbedding(Kernel &k) {
  auto &b = k.builder;
  Value *table = k.arg(0), *ids = k.arg(1), *out = k.arg(2);
  int64_t stride = rowBytes(k.d.format, k.d.outCols);
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *id = b.CreateSExt(b.CreateLoad(k.e.i32(), k.e.at(k.e.i32(), ids, t)),
                             k.e.i64());
    Value *row = k.e.at(b.getInt8Ty(), table, b.CreateMul(id, k.e.c64(stride)));
    emitDecodeRow(k.e, k.d.format, row, k.rowPtr(out, t, k.d.outCols),
                  k.d.outCols);
  });
}

void emitPositions(Kernel &k) {
  auto &b = k.builder;
  Value *out = k.arg(0);
  k.e.forRange(k.e.c64(0), k.rows, [&](Value *t) {
    Value *p = b.CreateTrunc(b.CreateAdd(k.position, t), k.e.i32());
    b.CreateStore(p, k.e.at(k.e.i32(), out, t));
  });
}

void emitBinary(Kernel &k, bool add) {
  auto &b = k.builder;
  Value *lhs = k.arg(0), *rhs = k.arg(1), *out = k.arg(2);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *base = b.CreateMul(t, k.e.c64(n));
    k.e.forRange(0, n, [&](Value *c) {
      Value *i = b.CreateAdd(base, c);
      Value *x = k.e.loadF32(lhs, i), *y = k.e.loadF32(rhs, i);
      k.e.storeF32(add ? b.CreateFAdd(x, y) : b.CreateFMul(x, y), out, i);
    });
  });
}

// ggml's SiLU of element c of a row of n: its polynomial exp on groups of
// eight, libm's expf on the remainder of the row.
Value *emitSiluValue(Kernel &k, Value *v, Value *c, int64_t n) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  Value *negated = b.CreateFSub(k.e.cf(0.0f), v);
  Value *exp = n % 8 == 0 ? emitGgmlExp(b, negated) : k.e.callMath("expf", negated);
  if (n % 8 != 0 && n >= 8) {
    Value *inGroups = b.CreateICmpSLT(c, k.e.c64(n / 8 * 8));
    exp = b.CreateSelect(inGroups, emitGgmlExp(b, negated), exp);
  }
  return b.CreateFDiv(v, b.CreateFAdd(k.e.cf(1.0f), exp));
}

// ggml's GELU (tanh form) reads a table indexed by x rounded to f16 and
// holding f16 results: gelu(f16(x)) rounded to f16, for -10 < x < 10; 0
// below, x above.
Value *emitGeluValue(Kernel &k, Value *v) {
  auto &b = k.builder;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  auto roundHalf = [&](Value *f) {
    return b.CreateFPExt(b.CreateFPTrunc(f, b.getHalfTy()), k.e.f32());
  };
  Value *h = roundHalf(v);
  Value *square = emitFma(b, b.CreateFMul(k.e.cf(0.044715f), h), h, k.e.cf(1.0f));
  Value *inner = b.CreateFMul(b.CreateFMul(k.e.cf(0.7978845608028654f), h), square);
  Value *th = k.e.callMath("tanhf", inner);
  Value *gelu = roundHalf(b.CreateFMul(b.CreateFMul(k.e.cf(0.5f), h),
                                       b.CreateFAdd(k.e.cf(1.0f), th)));
  return b.CreateSelect(b.CreateFCmpOLE(v, k.e.cf(-10.0f)), k.e.cf(0.0f),
                        b.CreateSelect(b.CreateFCmpOGE(v, k.e.cf(10.0f)), v, gelu));
}

void emitUnary(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t n = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, n), *res = k.rowPtr(out, t, n);
    if (k.d.kind == KernelKind::Softmax) {
      Value *max = k.e.reduce(0, n, k.e.cf(-INFINITY), [&](Value *c, Value *m) {
        return b.CreateMaxNum(m, k.e.loadF32(in, c));
      });
      Value *sum = k.e.reduce(0, n, k.e.cf(0.0f), [&](Value *c, Value *acc) {
        Value *w = k.e.callMath("expf", b.CreateFSub(k.e.loadF32(in, c), max));
        k.e.storeF32(w, res, c);
        return b.CreateFAdd(acc, w);
      });
      Value *inverse = b.CreateFDiv(k.e.cf(1.0f), sum);
      k.e.forRange(0, n, [&](Value *c) {
        k.e.storeF32(b.CreateFMul(k.e.loadF32(res, c), inverse), res, c);
      });
      return;
    }
    k.e.forRange(0, n, [&](Value *c) {
      Value *v = k.e.loadF32(in, c);
      Value *y = k.d.kind == KernelKind::Silu ? emitSiluValue(k, v, c, n)
                                              : emitGeluValue(k, v);
      k.e.storeF32(y, res, c);
    });
  });
}

void emitSliceColumns(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, k.d.cols), *res = k.rowPtr(out, t, k.d.outCols);
    k.e.forRange(0, k.d.outCols, [&](Value *c) {
      k.e.storeF32(k.e.loadF32(in, k.builder.CreateAdd(c, k.e.c64(k.d.slice.offset))),
                   res, c);
    });
  });
}

void emitLastRow(Kernel &k) {
  Value *x = k.arg(0), *out = k.arg(1);
  Value *last = k.builder.CreateSub(k.rows, k.e.c64(1));
  Value *in = k.rowPtr(x, last, k.d.cols);
  k.e.forRange(0, k.d.cols, [&](Value *c) {
    k.e.storeF32(k.e.loadF32(in, c), out, c);
  });
}

} // namespace kiln::codegen::cpu
