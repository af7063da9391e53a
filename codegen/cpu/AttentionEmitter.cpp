// Rope, the KV-cache store, attention and flash attention kernels.

#include "codegen/cpu/CpuSchedule.h"
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
// Rounds to f16 and back, where llama.cpp converts an operand to f16.
Value *roundToHalf(Kernel &k, Value *value) {
  if (!k.d.attention.kvHalf)
    return value;
  auto &b = k.builder;
  return b.CreateFPExt(b.CreateFPTrunc(value, b.getHalfTy()), k.e.f32());
}

} // namespace

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

// Flash attention. A task is one query row and the query heads that share
// one KV head (up to flashHeadsPerTask of them, CpuSchedule.h): the cached
// positions in tiles of 32, each tile's keys and values converted to f32
// once for all of the task's heads (an f32 cache is read in place). Per
// head and tile: the scores (scale * q.k, eight-lane FMA dots), their
// running maximum m and sum l (ggml's polynomial exp), and the output
// accumulators rescaled by exp(m_old - m_new) and then added w_j * v_j,
// the head's columns in registers. No row of scores is kept: memory does
// not grow with the context. Tasks run over the rows from both ends
// (0, n-1, 1, n-2, ...), so each thread's contiguous share of a causal
// prompt holds about as many scores as the others'.
void emitFlashAttention(Kernel &k) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  const AttentionDesc &a = k.d.attention;
  Value *q = k.arg(0), *kc = k.arg(1), *vc = k.arg(2), *out = k.arg(3);
  int64_t width = k.d.cols, hd = a.headDim;
  int64_t kvWidth = a.numKvHeads * hd;
  int64_t group = a.numHeads / a.numKvHeads;
  int64_t heads = flashHeadsPerTask(a), subgroups = group / heads;
  int64_t perRow = a.numKvHeads * subgroups;
  constexpr int64_t kTile = 32;
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  // Head columns `width` at a time: 32 (four independent FMA chains, as
  // four registers) when the head allows, else 8.
  int64_t vw = hd % 64 == 0 ? 64 : hd % 32 == 0 ? 32 : 8;
  auto *wide = FixedVectorType::get(e.f32(), vw);
  int64_t chunks = hd / vw;
  Value *scores = e.scratch(kTile);
  Value *query = e.scratch(heads * hd);
  Value *output = e.scratch(heads * hd);
  Value *runningMax = e.scratch(heads), *runningSum = e.scratch(heads);
  Value *keyTile = a.kvHalf ? e.scratch(kTile * hd) : nullptr;
  Value *valueTile = a.kvHalf ? e.scratch(kTile * hd) : nullptr;

  auto loadWide = [&](Value *base, Value *index) {
    return b.CreateAlignedLoad(wide, e.at(e.f32(), base, index), Align(4));
  };
  // Row j of the tile starting at j0, for the KV head at kvOffset: the f32
  // copy of an f16 cache, or the f32 cache itself.
  auto rowOf = [&](Value *cache, Value *tile, Value *j, Value *j0, Value *kvOffset) {
    if (tile)
      return e.at(e.f32(), tile, b.CreateMul(b.CreateSub(j, j0), e.c64(hd)));
    return e.at(e.f32(), cache, b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset));
  };
  auto convertTile = [&](Value *cache, Value *tile, Value *j0, Value *j1, Value *kvOffset) {
    auto *halves = FixedVectorType::get(b.getHalfTy(), vw);
    e.forRange(j0, j1, [&](Value *j) {
      Value *from = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
      Value *to = rowOf(cache, tile, j, j0, kvOffset);
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Value *raw = b.CreateAlignedLoad(
            halves, e.at(b.getHalfTy(), cache, b.CreateAdd(from, e.c64(vw * chunk))), Align(2));
        b.CreateAlignedStore(b.CreateFPExt(raw, wide), e.at(e.f32(), to, e.c64(vw * chunk)),
                             Align(4));
      }
    });
  };
  // The eight-lane sum of a wide vector's eight-lane parts.
  auto foldToEight = [&](Value *v) {
    Value *sum = nullptr;
    for (int64_t part = 0; part < vw / 8; ++part) {
      SmallVector<int, 8> lanesOf;
      for (int i = 0; i < 8; ++i)
        lanesOf.push_back(int(8 * part + i));
      Value *slice = b.CreateShuffleVector(v, lanesOf);
      sum = sum ? b.CreateFAdd(sum, slice) : slice;
    }
    return sum;
  };
  // One head of the task over the tile [j0, j1).
  auto headTile = [&](Value *g, Value *j0, Value *j1, Value *kvOffset) {
    Value *ownQuery = e.at(e.f32(), query, b.CreateMul(g, e.c64(hd)));
    Value *ownOutput = e.at(e.f32(), output, b.CreateMul(g, e.c64(hd)));
    Value *tileMax = e.reduce(j0, j1, e.cf(-INFINITY), [&](Value *j, Value *m) {
      Value *key = rowOf(kc, keyTile, j, j0, kvOffset);
      Value *acc = ConstantAggregateZero::get(wide);
      for (int64_t chunk = 0; chunk < chunks; ++chunk)
        acc = emitFma(b, loadWide(ownQuery, e.c64(vw * chunk)),
                      loadWide(key, e.c64(vw * chunk)), acc);
      Value *s = b.CreateFMul(emitLaneSum(b, foldToEight(acc), LaneTree::Interleaved),
                              e.cf(a.scale));
      e.storeF32(s, scores, b.CreateSub(j, j0));
      return b.CreateMaxNum(m, s);
    });
    Value *oldMax = e.loadF32(runningMax, g);
    Value *newMax = b.CreateMaxNum(oldMax, tileMax);
    Value *correction = e.callMath("expf", b.CreateFSub(oldMax, newMax));
    // Weights of the tile; lanes past its end are zero.
    Value *tileSum = e.cf(0.0f);
    Value *valid = b.CreateSub(j1, j0);
    for (int64_t v = 0; v < kTile / 8; ++v) {
      Value *at = e.at(e.f32(), scores, e.c64(8 * v));
      Value *s8 = b.CreateAlignedLoad(lanes, at, Align(4));
      Value *w = emitGgmlExp(b, b.CreateFSub(s8, b.CreateVectorSplat(8, newMax)));
      SmallVector<Constant *, 8> offsets;
      for (int i = 0; i < 8; ++i)
        offsets.push_back(b.getInt64(8 * v + i));
      Value *inside = b.CreateICmpSLT(ConstantVector::get(offsets),
                                      b.CreateVectorSplat(8, valid));
      w = b.CreateSelect(inside, w, ConstantAggregateZero::get(lanes));
      b.CreateAlignedStore(w, at, Align(4));
      tileSum = b.CreateFAdd(tileSum, emitLaneSum(b, w, LaneTree::Interleaved));
    }
    e.storeF32(b.CreateFAdd(b.CreateFMul(e.loadF32(runningSum, g), correction), tileSum),
               runningSum, g);
    e.storeF32(newMax, runningMax, g);
    Value *scaleVector = b.CreateVectorSplat(vw, correction);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      Value *at = e.at(e.f32(), ownOutput, e.c64(vw * chunk));
      Value *init = b.CreateFMul(b.CreateAlignedLoad(wide, at, Align(4)), scaleVector);
      Value *sum = e.reduce(j0, j1, init, [&](Value *j, Value *acc) {
        Value *value = rowOf(vc, valueTile, j, j0, kvOffset);
        Value *w = b.CreateVectorSplat(vw, e.loadF32(scores, b.CreateSub(j, j0)));
        return emitFma(b, w, loadWide(value, e.c64(vw * chunk)), acc);
      });
      b.CreateAlignedStore(sum, at, Align(4));
    }
  };
  e.forRange(k.begin, k.end, [&](Value *task) {
    Value *slot = b.CreateUDiv(task, e.c64(perRow));
    Value *within = b.CreateURem(task, e.c64(perRow));
    Value *half = b.CreateLShr(slot, e.c64(1));
    Value *fromEnd = b.CreateICmpNE(b.CreateAnd(slot, e.c64(1)), e.c64(0));
    Value *t = b.CreateSelect(fromEnd, b.CreateSub(b.CreateSub(k.rows, e.c64(1)), half), half);
    Value *kvHead = b.CreateUDiv(within, e.c64(subgroups));
    Value *firstHead = b.CreateAdd(b.CreateMul(kvHead, e.c64(group)),
                                   b.CreateMul(b.CreateURem(within, e.c64(subgroups)),
                                               e.c64(heads)));
    Value *kvOffset = b.CreateMul(kvHead, e.c64(hd));
    Value *count = b.CreateAdd(b.CreateAdd(k.position, t), e.c64(1));
    Value *queryRow = e.at(e.f32(), k.rowPtr(q, t, width), b.CreateMul(firstHead, e.c64(hd)));
    e.forRange(0, heads * hd, [&](Value *c) {
      e.storeF32(roundToHalf(k, e.loadF32(queryRow, c)), query, c);
      e.storeF32(e.cf(0.0f), output, c);
    });
    e.forRange(0, heads, [&](Value *g) {
      e.storeF32(e.cf(-INFINITY), runningMax, g);
      e.storeF32(e.cf(0.0f), runningSum, g);
    });
    Value *tiles = b.CreateUDiv(b.CreateAdd(count, e.c64(kTile - 1)), e.c64(kTile));
    e.forRange(e.c64(0), tiles, [&](Value *tileIndex) {
      Value *j0 = b.CreateMul(tileIndex, e.c64(kTile));
      Value *j1 = b.CreateAdd(j0, e.c64(kTile));
      j1 = b.CreateSelect(b.CreateICmpSLT(j1, count), j1, count);
      if (a.kvHalf) {
        convertTile(kc, keyTile, j0, j1, kvOffset);
        convertTile(vc, valueTile, j0, j1, kvOffset);
      }
      e.forRange(e.c64(0), e.c64(heads), [&](Value *g) { headTile(g, j0, j1, kvOffset); });
    });
    Value *result = e.at(e.f32(), k.rowPtr(out, t, width), b.CreateMul(firstHead, e.c64(hd)));
    e.forRange(0, heads, [&](Value *g) {
      Value *inverse = b.CreateFDiv(e.cf(1.0f), e.loadF32(runningSum, g));
      e.forRange(0, hd, [&](Value *c) {
        Value *at = b.CreateAdd(b.CreateMul(g, e.c64(hd)), c);
        e.storeF32(b.CreateFMul(e.loadF32(output, at), inverse), result, at);
      });
    });
  });
}

} // namespace kiln::codegen::cpu
