// Rope, the KV-cache store and the attention kernel (flash attention is in
// FlashAttentionEmitter.cpp).

#include "codegen/cpu/KernelContext.h"

#include "codegen/llvm/GgmlNumerics.h"

#include <cmath>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

// llama.cpp's rope: theta for pair i is p * freq_scale * base^(-2i/dims),
// with base^(-2/dims) raised step by step in float as ggml does. Calls
// body(i, cos, sin) for the pairs i in [0, rope_dims / 2) at position p.
void forEachRopeAngle(Kernel &k, Value *p,
                      const std::function<void(Value *i, Value *cos, Value *sin)> &body) {
  auto &b = k.builder;
  float thetaScale = std::pow(k.d.rope.freqBase, -2.0f / float(k.d.rope.ropeDims));
  k.e.reduce(0, k.d.rope.ropeDims / 2, p, [&](Value *i, Value *thetaBase) {
    Value *theta = b.CreateFMul(thetaBase, k.e.cf(k.d.rope.freqScale));
    body(i, k.e.callMath("cosf", theta), k.e.callMath("sinf", theta));
    return b.CreateFMul(thetaBase, k.e.cf(thetaScale));
  });
}

// Rotates the pair in[a], in[c] into res[a], res[c].
void emitRopeRotation(Kernel &k, Value *in, Value *res, Value *a, Value *c,
                      Value *cos, Value *sin) {
  auto &b = k.builder;
  Value *x0 = k.e.loadF32(in, a), *x1 = k.e.loadF32(in, c);
  // As GCC contracts ggml's x0*cos - x1*sin (first product fused).
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  k.e.storeF32(emitFma(b, x0, cos, b.CreateFNeg(b.CreateFMul(x1, sin))), res, a);
  k.e.storeF32(emitFma(b, x0, sin, b.CreateFMul(x1, cos)), res, c);
}

void emitRope(Kernel &k) {
  auto &b = k.builder;
  Value *x = k.arg(0), *out = k.arg(1);
  int64_t width = k.d.cols, hd = k.d.rope.headDim, dims = k.d.rope.ropeDims;
  int64_t heads = width / hd;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *in = k.rowPtr(x, t, width), *res = k.rowPtr(out, t, width);
    // Copy first: dimensions past rope_dims pass through unchanged.
    if (dims < hd)
      k.e.forRange(0, width, [&](Value *c) {
        k.e.storeF32(k.e.loadF32(in, c), res, c);
      });
    Value *p = b.CreateSIToFP(b.CreateAdd(k.position, t), k.e.f32());
    forEachRopeAngle(k, p, [&](Value *i, Value *cos, Value *sin) {
      Value *i0 = k.d.rope.neox ? i : b.CreateShl(i, k.e.c64(1));
      Value *i1 = b.CreateAdd(i0, k.e.c64(k.d.rope.neox ? dims / 2 : 1));
      k.e.forRange(0, heads, [&](Value *h) {
        Value *headBase = b.CreateMul(h, k.e.c64(hd));
        emitRopeRotation(k, in, res, b.CreateAdd(headBase, i0), b.CreateAdd(headBase, i1),
                         cos, sin);
      });
    });
  });
}

namespace {

// The KV cache holds f32, or f16 when the description says so.
Value *loadCache(Kernel &k, Value *base, Value *index) {
  if (!k.d.attention.kvHalf)
    return k.e.loadF32(base, index);
  auto &b = k.builder;
  return b.CreateFPExt(b.CreateLoad(b.getHalfTy(), k.e.at(b.getHalfTy(), base, index)),
                       k.e.f32());
}
void storeCache(Kernel &k, Value *value, Value *base, Value *index) {
  if (!k.d.attention.kvHalf)
    return k.e.storeF32(value, base, index);
  auto &b = k.builder;
  b.CreateStore(b.CreateFPTrunc(value, b.getHalfTy()),
                k.e.at(b.getHalfTy(), base, index));
}
} // namespace

Value *roundToHalf(Kernel &k, Value *value) {
  if (!k.d.attention.kvHalf)
    return value;
  auto &b = k.builder;
  return b.CreateFPExt(b.CreateFPTrunc(value, b.getHalfTy()), k.e.f32());
}

void emitKvStore(Kernel &k) {
  auto &b = k.builder;
  Value *key = k.arg(0), *value = k.arg(1), *kc = k.arg(2), *vc = k.arg(3);
  int64_t width = k.d.cols;
  k.e.forRange(k.begin, k.end, [&](Value *t) {
    Value *slot = b.CreateMul(b.CreateAdd(k.position, t), k.e.c64(width));
    Value *kin = k.rowPtr(key, t, width), *vin = k.rowPtr(value, t, width);
    k.e.forRange(0, width, [&](Value *c) {
      Value *at = b.CreateAdd(slot, c);
      storeCache(k, k.e.loadF32(kin, c), kc, at);
      storeCache(k, k.e.loadF32(vin, c), vc, at);
    });
  });
}

// One task per query head: scores against every cached position up to the
// query's own (causal), softmax, weighted sum of the values; in the order
// llama.cpp's CPU path adds (GgmlNumerics.h). Many tokens (its sgemm): one
// eight-lane accumulator per dot, every eighth product in a lane, lanes
// added interleaved. One token (ggml_vec_dot_f16): four eight-lane
// accumulators over chunks of 32, folded 0+2, 1+3, then 0+1, lanes added
// adjacent. The softmax uses ggml's polynomial exp in groups of eight,
// each group's sum added in double.
void emitAttention(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *q = k.arg(0), *kc = k.arg(1), *vc = k.arg(2), *out = k.arg(3);
  int64_t width = k.d.cols, hd = k.d.attention.headDim;
  int64_t kvWidth = k.d.attention.numKvHeads * hd;
  int64_t group = k.d.attention.numHeads / k.d.attention.numKvHeads;
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  auto *dbl = b.getDoubleTy();
  int64_t chunks = hd / 8;
  // Positions are padded to a multiple of 32 (llama.cpp pads its KV view
  // so; the padding's weights are zero).
  int64_t padded = (k.d.attention.contextLength + 31) / 32 * 32;
  Value *scores = e.scratch(padded);
  Value *query = e.scratch(hd);
  Value *partial = e.scratch(32 * hd);
  Value *accumulators[4];
  for (Value *&acc : accumulators)
    acc = e.local(lanes);

  auto loadCache8 = [&](Value *base, Value *index) -> Value * {
    if (!k.d.attention.kvHalf)
      return b.CreateAlignedLoad(lanes, e.at(e.f32(), base, index), Align(4));
    auto *halves = FixedVectorType::get(b.getHalfTy(), 8);
    Value *raw = b.CreateAlignedLoad(halves, e.at(b.getHalfTy(), base, index), Align(2));
    return b.CreateFPExt(raw, lanes);
  };
  // One head of one query row, summing in sgemm (`batched`) or vec_dot order.
  auto head = [&](Value *h, Value *t, bool batched) {
    IRBuilder<>::FastMathFlagGuard guard(b);
    b.clearFastMathFlags();
    Value *kvOffset = b.CreateMul(b.CreateUDiv(h, e.c64(group)), e.c64(hd));
    Value *headOffset = b.CreateMul(h, e.c64(hd));
    Value *count = b.CreateAdd(b.CreateAdd(k.position, t), e.c64(1));
    Value *queryRow = e.at(e.f32(), k.rowPtr(q, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      e.storeF32(roundToHalf(k, e.loadF32(queryRow, c)), query, c);
    });
    // Scores and their maximum.
    Value *max = e.reduce(e.c64(0), count, e.cf(-INFINITY), [&](Value *j, Value *m) {
      Value *keyBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
      Value *zero = ConstantAggregateZero::get(lanes);
      for (Value *acc : accumulators)
        b.CreateStore(zero, acc);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *x = b.CreateAlignedLoad(lanes, e.at(e.f32(), query, e.c64(8 * chunk)), Align(4));
        Value *y = loadCache8(kc, b.CreateAdd(keyBase, e.c64(8 * chunk)));
        Value *acc = accumulators[batched ? 0 : chunk % 4];
        b.CreateStore(emitFma(b, x, y, b.CreateLoad(lanes, acc)), acc);
      }
      Value *dot;
      if (batched) {
        dot = emitLaneSum(b, b.CreateLoad(lanes, accumulators[0]), LaneTree::Interleaved);
      } else {
        Value *x[4];
        for (int i = 0; i < 4; ++i)
          x[i] = b.CreateLoad(lanes, accumulators[i]);
        Value *folded = b.CreateFAdd(b.CreateFAdd(x[0], x[2]), b.CreateFAdd(x[1], x[3]));
        dot = emitLaneSum(b, folded, LaneTree::Adjacent);
      }
      // Head sizes that are not a multiple of 8: the rest one by one.
      for (int64_t c = 8 * chunks; c < hd; ++c) {
        Value *key = loadCache(k, kc, b.CreateAdd(keyBase, e.c64(c)));
        dot = emitFma(b, e.loadF32(query, e.c64(c)), key, dot);
      }
      Value *s = b.CreateFMul(dot, e.cf(k.d.attention.scale));
      e.storeF32(s, scores, j);
      return b.CreateMaxNum(m, s);
    });
    // exp(s - max) in groups of eight; each group's lanes summed in float,
    // the groups in double.
    Value *groups = b.CreateUDiv(b.CreateAdd(count, e.c64(7)), e.c64(8));
    Value *sum = e.reduce(e.c64(0), groups, ConstantFP::get(dbl, 0.0), [&](Value *g, Value *acc) {
      Value *base = b.CreateMul(g, e.c64(8));
      Value *s8 = b.CreateAlignedLoad(lanes, e.at(e.f32(), scores, base), Align(4));
      Value *w = emitGgmlExp(b, b.CreateFSub(s8, b.CreateVectorSplat(8, max)));
      SmallVector<Constant *, 8> offsets;
      for (int i = 0; i < 8; ++i)
        offsets.push_back(b.getInt64(i));
      Value *positions = b.CreateAdd(b.CreateVectorSplat(8, base), ConstantVector::get(offsets));
      Value *valid = b.CreateICmpSLT(positions, b.CreateVectorSplat(8, count));
      w = b.CreateSelect(valid, w, ConstantAggregateZero::get(lanes));
      b.CreateAlignedStore(w, e.at(e.f32(), scores, base), Align(4));
      return b.CreateFAdd(acc, b.CreateFPExt(emitLaneSum(b, w, LaneTree::Interleaved), dbl));
    });
    Value *inverse = b.CreateFPTrunc(b.CreateFDiv(ConstantFP::get(dbl, 1.0), sum), e.f32());
    // Weighted values: position j adds into partial row j % 8 (batched) or
    // j % 32, element by element with FMA; the rows are then folded.
    int64_t rowsUsed = batched ? 8 : 32;
    e.forRange(0, rowsUsed * hd, [&](Value *i) { e.storeF32(e.cf(0.0f), partial, i); });
    e.forRange(e.c64(0), count, [&](Value *j) {
      Value *w = roundToHalf(k, b.CreateFMul(e.loadF32(scores, j), inverse));
      Value *valueBase = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
      Value *row = b.CreateMul(b.CreateURem(j, e.c64(rowsUsed)), e.c64(hd));
      Value *splat = b.CreateVectorSplat(8, w);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *at = e.at(e.f32(), partial, b.CreateAdd(row, e.c64(8 * chunk)));
        Value *v = loadCache8(vc, b.CreateAdd(valueBase, e.c64(8 * chunk)));
        Value *acc = b.CreateAlignedLoad(lanes, at, Align(4));
        b.CreateAlignedStore(emitFma(b, splat, v, acc), at, Align(4));
      }
      for (int64_t c = 8 * chunks; c < hd; ++c) {
        Value *at = b.CreateAdd(row, e.c64(c));
        Value *v = loadCache(k, vc, b.CreateAdd(valueBase, e.c64(c)));
        e.storeF32(emitFma(b, w, v, e.loadF32(partial, at)), partial, at);
      }
    });
    Value *result = e.at(e.f32(), k.rowPtr(out, t, width), headOffset);
    e.forRange(0, hd, [&](Value *c) {
      auto part = [&](int64_t r) { return e.loadF32(partial, b.CreateAdd(e.c64(r * hd), c)); };
      Value *lanes8 = PoisonValue::get(lanes);
      for (int64_t l = 0; l < 8; ++l) {
        Value *value = part(l);
        if (!batched) // accumulators a = 0..3 of lane l: rows 8a + l
          value = b.CreateFAdd(b.CreateFAdd(part(l), part(16 + l)),
                               b.CreateFAdd(part(8 + l), part(24 + l)));
        lanes8 = b.CreateInsertElement(lanes8, value, uint64_t(l));
      }
      e.storeF32(emitLaneSum(b, lanes8, batched ? LaneTree::Interleaved : LaneTree::Adjacent),
                 result, c);
    });
  };
  e.forRange(k.begin, k.end, [&](Value *h) {
    e.forRange(e.c64(0), k.rows, [&](Value *t) {
      e.ifElse(b.CreateICmpSGT(k.rows, e.c64(1)), [&] { head(h, t, true); },
               [&] { head(h, t, false); });
    });
  });
}

} // namespace kiln::codegen::cpu
