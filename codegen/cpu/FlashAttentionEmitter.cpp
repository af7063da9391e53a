// Flash attention: attention with an online softmax. No row of scores is
// kept, so memory does not grow with the context; the cached positions are
// visited in tiles of kTile, each tile's keys and values converted to f32
// once for all of a task's queries (an f32 cache is read in place).
//
// A task is the query heads that share one KV head (up to
// flashHeadsPerTask of them, CpuSchedule.h) for a run of query rows:
//
// - One row (decode): per head, the scores eight keys at a time (each
//   key's dot an eight-lane FMA chain, the eight chains summed across
//   lanes together), their running maximum m and sum l, the output
//   accumulators rescaled by exp(m_old - m_new) and then added w_j * v_j
//   (rowTask). A task of one head converts an f16 cache as it reads it
//   instead of copying tiles.
// - Several rows (prefill): blocks of kLanes / heads rows, so that one
//   block's queries fill kLanes vector lanes (blockTask). The queries are
//   transposed once per block; each key's scores for all of them are then
//   one FMA chain over the head's columns with the key's element
//   broadcast, the softmax runs lane-wise (no horizontal sums), and each
//   output column of all lanes adds w_j * v_j[d] with the value's element
//   broadcast. Keys and values are read once per block, not once per row.
//
// The task space is (head group) x (row slot), the groups outermost. The
// row slots list the blocks from both ends (first, last, second, ...), so
// that any contiguous share of it holds about as many causal scores as
// another; a thread's share may start or end inside a block, and then does
// that part of it.
#include "codegen/cpu/CpuSchedule.h"
#include "codegen/cpu/KernelContext.h"

#include "codegen/llvm/GgmlNumerics.h"

#include "llvm/Analysis/VectorUtils.h"

#include <cmath>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

namespace {

constexpr int64_t kTile = 32;
constexpr int64_t kLanes = 32;

class FlashEmitter {
public:
  explicit FlashEmitter(Kernel &k);
  void emit();

private:
  Kernel &k;
  IRBuilder<> &b;
  LoopEmitter &e;
  const AttentionDesc &a;
  Value *q, *kc, *vc, *out;
  int64_t width, hd, kvWidth, group, heads, subgroups, blockRows;
  // Head columns `vw` at a time where a row is copied or accumulated whole:
  // 64 or 32 (independent FMA chains) when the head allows, else 8.
  int64_t vw;
  Value *keyTile = nullptr, *valueTile = nullptr; // f16 cache only

  struct Heads {
    Value *firstHead; // the task's first query head
    Value *kvOffset;  // its KV head's first column in a cache row
  };
  Heads headsOf(Value *within);
  Value *rowOf(Value *cache, Value *tile, Value *j, Value *j0, Value *kvOffset);
  void convertTile(Value *cache, Value *tile, Value *j0, Value *j1, Value *kvOffset);
  Value *sumEachOfEight(ArrayRef<Value *> v);
  void rowTask(Value *within);
  void blockTask(Value *within, Value *t0, Value *n);
  Value *splat(int64_t lanes, Value *scalar) { return b.CreateVectorSplat(lanes, scalar); }
};

FlashEmitter::FlashEmitter(Kernel &k)
    : k(k), b(k.builder), e(k.e), a(k.d.attention), q(k.arg(0)), kc(k.arg(1)), vc(k.arg(2)),
      out(k.arg(3)) {
  width = k.d.cols;
  hd = a.headDim;
  kvWidth = a.numKvHeads * hd;
  group = a.numHeads / a.numKvHeads;
  heads = flashHeadsPerTask(a);
  subgroups = group / heads;
  blockRows = heads < kLanes ? kLanes / heads : 1;
  vw = hd % 64 == 0 ? 64 : hd % 32 == 0 ? 32 : 8;
  if (a.kvHalf) {
    keyTile = e.scratch(kTile * hd);
    valueTile = e.scratch(kTile * hd);
  }
}

FlashEmitter::Heads FlashEmitter::headsOf(Value *within) {
  Value *kvHead = b.CreateUDiv(within, e.c64(subgroups));
  Value *firstHead = b.CreateAdd(
      b.CreateMul(kvHead, e.c64(group)),
      b.CreateMul(b.CreateURem(within, e.c64(subgroups)), e.c64(heads)));
  return {firstHead, b.CreateMul(kvHead, e.c64(hd))};
}

// Row j of the tile starting at j0, for the KV head at kvOffset: the f32
// copy of an f16 cache, or the f32 cache itself.
Value *FlashEmitter::rowOf(Value *cache, Value *tile, Value *j, Value *j0, Value *kvOffset) {
  if (tile)
    return e.at(e.f32(), tile, b.CreateMul(b.CreateSub(j, j0), e.c64(hd)));
  return e.at(e.f32(), cache, b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset));
}

void FlashEmitter::convertTile(Value *cache, Value *tile, Value *j0, Value *j1,
                               Value *kvOffset) {
  auto *halves = FixedVectorType::get(b.getHalfTy(), vw);
  auto *wide = FixedVectorType::get(e.f32(), vw);
  e.forRange(j0, j1, [&](Value *j) {
    Value *from = b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset);
    Value *to = rowOf(cache, tile, j, j0, kvOffset);
    for (int64_t chunk = 0; chunk < hd / vw; ++chunk) {
      Value *raw = b.CreateAlignedLoad(
          halves, e.at(b.getHalfTy(), cache, b.CreateAdd(from, e.c64(vw * chunk))), Align(2));
      b.CreateAlignedStore(b.CreateFPExt(raw, wide), e.at(e.f32(), to, e.c64(vw * chunk)),
                           Align(4));
    }
  });
}

// Lane i of the result: the sum of v[i]'s eight lanes (eight vectors of
// eight), by adding neighbours, then pairs, then halves, two vectors'
// lanes interleaved at each step.
Value *FlashEmitter::sumEachOfEight(ArrayRef<Value *> v) {
  auto step = [&](ArrayRef<Value *> in, ArrayRef<int> low, ArrayRef<int> high) {
    SmallVector<Value *, 4> sums;
    for (size_t i = 0; i + 1 < in.size(); i += 2)
      sums.push_back(b.CreateFAdd(b.CreateShuffleVector(in[i], in[i + 1], low),
                                  b.CreateShuffleVector(in[i], in[i + 1], high)));
    return sums;
  };
  SmallVector<Value *, 4> neighbours =
      step(v, {0, 8, 2, 10, 4, 12, 6, 14}, {1, 9, 3, 11, 5, 13, 7, 15});
  SmallVector<Value *, 4> pairs =
      step(neighbours, {0, 1, 8, 9, 4, 5, 12, 13}, {2, 3, 10, 11, 6, 7, 14, 15});
  return step(pairs, {0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15})[0];
}

// One query row (decode): the task's heads, each over every tile.
void FlashEmitter::rowTask(Value *within) {
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  auto *wide = FixedVectorType::get(e.f32(), vw);
  int64_t chunks = hd / vw;
  Value *scores = e.scratch(kTile);
  Value *query = e.scratch(heads * hd);
  Value *output = e.scratch(heads * hd);
  Value *runningMax = e.scratch(heads), *runningSum = e.scratch(heads);
  Heads h = headsOf(within);
  Value *kvOffset = h.kvOffset;
  // A head alone reads an f16 cache as it goes: a copy would be read once.
  const bool copy = a.kvHalf && heads > 1;
  Value *keys = copy ? keyTile : nullptr, *values = copy ? valueTile : nullptr;
  // Columns [c, c + count) of cached row j (tile from j0), as f32.
  auto loadCached = [&](Value *cache, Value *tile, Value *j, Value *j0, int64_t c,
                        int64_t count) -> Value * {
    auto *floats = FixedVectorType::get(e.f32(), count);
    if (tile || !a.kvHalf)
      return b.CreateAlignedLoad(
          floats, e.at(e.f32(), rowOf(cache, tile, j, j0, kvOffset), e.c64(c)), Align(4));
    auto *halves = FixedVectorType::get(b.getHalfTy(), count);
    Value *at = b.CreateAdd(b.CreateAdd(b.CreateMul(j, e.c64(kvWidth)), kvOffset), e.c64(c));
    return b.CreateFPExt(b.CreateAlignedLoad(halves, e.at(b.getHalfTy(), cache, at), Align(2)),
                         floats);
  };
  // One head of the task over the tile [j0, j1).
  auto headTile = [&](Value *g, Value *j0, Value *j1) {
    Value *ownQuery = e.at(e.f32(), query, b.CreateMul(g, e.c64(hd)));
    Value *ownOutput = e.at(e.f32(), output, b.CreateMul(g, e.c64(hd)));
    // Scores eight keys at a time: each key's dot is one eight-lane FMA
    // chain over the head's columns, and the eight chains are summed
    // across their lanes together into one vector of eight scores. Past
    // the tile's end the last key is read again; those scores are masked.
    Value *valid = b.CreateSub(j1, j0);
    Value *groups = b.CreateUDiv(b.CreateAdd(valid, e.c64(7)), e.c64(8));
    Value *maxima = e.reduce(e.c64(0), groups, splat(8, e.cf(-INFINITY)),
                             [&](Value *keyGroup, Value *m) {
      Value *first = b.CreateMul(keyGroup, e.c64(8));
      SmallVector<Value *, 8> dots;
      for (int64_t i = 0; i < 8; ++i) {
        Value *j = b.CreateAdd(first, e.c64(i));
        j = b.CreateAdd(j0, b.CreateSelect(b.CreateICmpULT(j, valid), j,
                                           b.CreateSub(valid, e.c64(1))));
        Value *acc = ConstantAggregateZero::get(lanes);
        for (int64_t c = 0; c < hd; c += 8)
          acc = emitFma(b, b.CreateAlignedLoad(lanes, e.at(e.f32(), ownQuery, e.c64(c)), Align(4)),
                        loadCached(kc, keys, j, j0, c, 8), acc);
        dots.push_back(acc);
      }
      Value *s = b.CreateFMul(sumEachOfEight(dots), splat(8, e.cf(a.scale)));
      b.CreateAlignedStore(s, e.at(e.f32(), scores, first), Align(4));
      SmallVector<Constant *, 8> offsets;
      for (int i = 0; i < 8; ++i)
        offsets.push_back(b.getInt64(i));
      Value *positions = b.CreateAdd(splat(8, first), ConstantVector::get(offsets));
      s = b.CreateSelect(b.CreateICmpULT(positions, splat(8, valid)), s,
                         splat(8, e.cf(-INFINITY)));
      return b.CreateSelect(b.CreateFCmpOGT(s, m), s, m);
    });
    Value *tileMax = b.CreateExtractElement(maxima, uint64_t(0));
    for (int i = 1; i < 8; ++i)
      tileMax = b.CreateMaxNum(tileMax, b.CreateExtractElement(maxima, uint64_t(i)));
    Value *oldMax = e.loadF32(runningMax, g);
    Value *newMax = b.CreateMaxNum(oldMax, tileMax);
    Value *correction = e.callMath("expf", b.CreateFSub(oldMax, newMax));
    // Weights of the tile; lanes past its end are zero.
    Value *tileSum = e.cf(0.0f);
    for (int64_t v = 0; v < kTile / 8; ++v) {
      Value *at = e.at(e.f32(), scores, e.c64(8 * v));
      Value *s8 = b.CreateAlignedLoad(lanes, at, Align(4));
      Value *w = emitGgmlExp(b, b.CreateFSub(s8, splat(8, newMax)));
      SmallVector<Constant *, 8> offsets;
      for (int i = 0; i < 8; ++i)
        offsets.push_back(b.getInt64(8 * v + i));
      Value *inside = b.CreateICmpSLT(ConstantVector::get(offsets), splat(8, valid));
      w = b.CreateSelect(inside, w, ConstantAggregateZero::get(lanes));
      b.CreateAlignedStore(w, at, Align(4));
      tileSum = b.CreateFAdd(tileSum, emitLaneSum(b, w, LaneTree::Interleaved));
    }
    e.storeF32(b.CreateFAdd(b.CreateFMul(e.loadF32(runningSum, g), correction), tileSum),
               runningSum, g);
    e.storeF32(newMax, runningMax, g);
    Value *scaleVector = splat(vw, correction);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      Value *at = e.at(e.f32(), ownOutput, e.c64(vw * chunk));
      Value *init = b.CreateFMul(b.CreateAlignedLoad(wide, at, Align(4)), scaleVector);
      Value *sum = e.reduce(j0, j1, init, [&](Value *j, Value *acc) {
        Value *w = splat(vw, e.loadF32(scores, b.CreateSub(j, j0)));
        return emitFma(b, w, loadCached(vc, values, j, j0, vw * chunk, vw), acc);
      });
      b.CreateAlignedStore(sum, at, Align(4));
    }
  };
  Value *count = b.CreateAdd(k.position, e.c64(1));
  Value *queryRow = e.at(e.f32(), q, b.CreateMul(h.firstHead, e.c64(hd)));
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
    if (copy) {
      convertTile(kc, keys, j0, j1, kvOffset);
      convertTile(vc, values, j0, j1, kvOffset);
    }
    e.forRange(e.c64(0), e.c64(heads), [&](Value *g) { headTile(g, j0, j1); });
  });
  Value *result = e.at(e.f32(), out, b.CreateMul(h.firstHead, e.c64(hd)));
  e.forRange(0, heads, [&](Value *g) {
    Value *inverse = b.CreateFDiv(e.cf(1.0f), e.loadF32(runningSum, g));
    e.forRange(0, hd, [&](Value *c) {
      Value *at = b.CreateAdd(b.CreateMul(g, e.c64(hd)), c);
      e.storeF32(b.CreateFMul(e.loadF32(output, at), inverse), result, at);
    });
  });
}

// Query rows [t0, t0 + n), n <= blockRows: lane r * heads + g is row t0 + r
// and the task's head g; lanes past n * heads are unused (a zero query that
// sees row t0's keys, so that no lane's softmax is empty).
void FlashEmitter::blockTask(Value *within, Value *t0, Value *n) {
  auto *laneVector = FixedVectorType::get(e.f32(), kLanes);
  auto loadLanes = [&](Value *base, Value *index) {
    return b.CreateAlignedLoad(laneVector, e.at(e.f32(), base, index), Align(4));
  };
  auto storeLanes = [&](Value *v, Value *base, Value *index) {
    b.CreateAlignedStore(v, e.at(e.f32(), base, index), Align(4));
  };
  // Element d of every lane's query at queries[d * kLanes + lane]; the
  // tile's weights at weights[j * kLanes + lane]; the output accumulators
  // at output[d * kLanes + lane].
  Value *queries = e.scratch(hd * kLanes);
  Value *weights = e.scratch(kTile * kLanes);
  Value *output = e.scratch(kLanes * hd);
  Value *runningMax = e.scratch(kLanes), *runningSum = e.scratch(kLanes);
  Value *counts = e.scratch(kLanes); // i32: the positions each lane sees

  Heads h = headsOf(within);
  Value *used = b.CreateMul(n, e.c64(heads));
  e.forRange(0, hd * kLanes, [&](Value *i) { e.storeF32(e.cf(0.0f), queries, i); });
  e.forRange(0, hd * kLanes, [&](Value *i) { e.storeF32(e.cf(0.0f), output, i); });
  e.forRange(e.c64(0), n, [&](Value *r) {
    Value *row = k.rowPtr(q, b.CreateAdd(t0, r), width);
    e.forRange(0, heads, [&](Value *g) {
      Value *lane = b.CreateAdd(b.CreateMul(r, e.c64(heads)), g);
      Value *query = e.at(e.f32(), row, b.CreateMul(b.CreateAdd(h.firstHead, g), e.c64(hd)));
      e.forRange(0, hd, [&](Value *d) {
        Value *to = b.CreateAdd(b.CreateMul(d, e.c64(kLanes)), lane);
        e.storeF32(roundToHalf(k, e.loadF32(query, d)), queries, to);
      });
    });
  });
  e.forRange(0, kLanes, [&](Value *lane) {
    Value *r = b.CreateSelect(b.CreateICmpULT(lane, used), b.CreateUDiv(lane, e.c64(heads)),
                              e.c64(0));
    Value *count = b.CreateAdd(b.CreateAdd(k.position, b.CreateAdd(t0, r)), e.c64(1));
    b.CreateStore(b.CreateTrunc(count, e.i32()), e.at(e.i32(), counts, lane));
    e.storeF32(e.cf(-INFINITY), runningMax, lane);
    e.storeF32(e.cf(0.0f), runningSum, lane);
  });

  // Keys the block's last row sees; tiles past a lane's own count are
  // masked for it.
  Value *last = b.CreateAdd(k.position, b.CreateAdd(t0, n));
  Value *tiles = b.CreateUDiv(b.CreateAdd(last, e.c64(kTile - 1)), e.c64(kTile));
  e.forRange(e.c64(0), tiles, [&](Value *tileIndex) {
    Value *j0 = b.CreateMul(tileIndex, e.c64(kTile));
    Value *j1 = b.CreateAdd(j0, e.c64(kTile));
    j1 = b.CreateSelect(b.CreateICmpULT(j1, last), j1, last);
    Value *jn = b.CreateSub(j1, j0);
    if (a.kvHalf) {
      convertTile(kc, keyTile, j0, j1, h.kvOffset);
      convertTile(vc, valueTile, j0, j1, h.kvOffset);
    }
    // Scores of two keys at a time (the second is the first again at an
    // odd end), every lane: FMA chains over the head's columns.
    Value *pairs = b.CreateUDiv(b.CreateAdd(jn, e.c64(1)), e.c64(2));
    e.forRange(e.c64(0), pairs, [&](Value *pair) {
      Value *ja = b.CreateMul(pair, e.c64(2));
      Value *jb = b.CreateAdd(ja, e.c64(1));
      jb = b.CreateSelect(b.CreateICmpULT(jb, jn), jb, ja);
      Value *keyA = rowOf(kc, keyTile, b.CreateAdd(j0, ja), j0, h.kvOffset);
      Value *keyB = rowOf(kc, keyTile, b.CreateAdd(j0, jb), j0, h.kvOffset);
      Value *accA = ConstantAggregateZero::get(laneVector), *accB = accA;
      for (int64_t d = 0; d < hd; ++d) {
        Value *column = loadLanes(queries, e.c64(d * kLanes));
        accA = emitFma(b, splat(kLanes, e.loadF32(keyA, e.c64(d))), column, accA);
        accB = emitFma(b, splat(kLanes, e.loadF32(keyB, e.c64(d))), column, accB);
      }
      Value *scale = splat(kLanes, e.cf(a.scale));
      storeLanes(b.CreateFMul(accA, scale), weights, b.CreateMul(ja, e.c64(kLanes)));
      storeLanes(b.CreateFMul(accB, scale), weights, b.CreateMul(jb, e.c64(kLanes)));
    });
    // Lane-wise softmax step: positions past a lane's count score -inf
    // (their exp is 0), the maxima, the weights and their sums.
    Value *countVector = b.CreateAlignedLoad(FixedVectorType::get(e.i32(), kLanes), counts,
                                             Align(4));
    Value *tileMax = e.reduce(e.c64(0), jn, splat(kLanes, e.cf(-INFINITY)),
                              [&](Value *j, Value *m) {
      Value *at = b.CreateMul(j, e.c64(kLanes));
      Value *position = splat(kLanes, b.CreateTrunc(b.CreateAdd(j0, j), e.i32()));
      Value *s = b.CreateSelect(b.CreateICmpSLT(position, countVector), loadLanes(weights, at),
                                splat(kLanes, e.cf(-INFINITY)));
      storeLanes(s, weights, at);
      return b.CreateSelect(b.CreateFCmpOGT(s, m), s, m); // no NaN here: one vmaxps
    });
    Value *oldMax = loadLanes(runningMax, e.c64(0));
    Value *newMax = b.CreateSelect(b.CreateFCmpOGT(tileMax, oldMax), tileMax, oldMax);
    Value *correction = emitGgmlExp(b, b.CreateFSub(oldMax, newMax));
    // The weights eight lanes at a time: the polynomial's constants and
    // one part's values fit in registers.
    SmallVector<Value *, 4> sums;
    for (int64_t part = 0; part < kLanes / 8; ++part) {
      SmallVector<int, 8> partLanes;
      for (int i = 0; i < 8; ++i)
        partLanes.push_back(int(8 * part + i));
      Value *partMax = b.CreateShuffleVector(newMax, partLanes);
      auto *eight = FixedVectorType::get(e.f32(), 8);
      sums.push_back(e.reduce(e.c64(0), jn, ConstantAggregateZero::get(eight),
                              [&](Value *j, Value *acc) {
        Value *at = e.at(e.f32(), weights, b.CreateAdd(b.CreateMul(j, e.c64(kLanes)),
                                                      e.c64(8 * part)));
        Value *w = emitGgmlExp(b, b.CreateFSub(b.CreateAlignedLoad(eight, at, Align(4)),
                                               partMax));
        b.CreateAlignedStore(w, at, Align(4));
        return b.CreateFAdd(acc, w);
      }));
    }
    Value *tileSum = concatenateVectors(b, sums);
    storeLanes(b.CreateFAdd(b.CreateFMul(loadLanes(runningSum, e.c64(0)), correction), tileSum),
               runningSum, e.c64(0));
    storeLanes(newMax, runningMax, e.c64(0));
    // Column d of every lane: output[d] = output[d] * correction +
    // sum_j v_j[d] * w_j, two columns at a time (eight FMA chains), each
    // tile row's weights loaded once for both.
    Value *both = concatenateVectors(b, {correction, correction});
    SmallVector<int, 64> twice;
    SmallVector<int, 32> low, high; // the two halves of a pair's sums
    for (int64_t i = 0; i < 2 * kLanes; ++i)
      twice.push_back(int(i % kLanes));
    for (int64_t i = 0; i < kLanes; ++i) {
      low.push_back(int(i));
      high.push_back(int(kLanes + i));
    }
    e.forRange(0, hd / 2, [&](Value *pair) {
      Value *d0 = b.CreateMul(pair, e.c64(2)), *d1 = b.CreateAdd(d0, e.c64(1));
      Value *at0 = b.CreateMul(d0, e.c64(kLanes)), *at1 = b.CreateMul(d1, e.c64(kLanes));
      Value *init = b.CreateFMul(
          concatenateVectors(b, {loadLanes(output, at0), loadLanes(output, at1)}), both);
      Value *sum = e.reduce(e.c64(0), jn, init, [&](Value *j, Value *acc) {
        Value *value = rowOf(vc, valueTile, b.CreateAdd(j0, j), j0, h.kvOffset);
        Value *w = loadLanes(weights, b.CreateMul(j, e.c64(kLanes)));
        Value *v = concatenateVectors(
            b, {splat(kLanes, e.loadF32(value, d0)), splat(kLanes, e.loadF32(value, d1))});
        return emitFma(b, v, b.CreateShuffleVector(w, twice), acc);
      });
      storeLanes(b.CreateShuffleVector(sum, low), output, at0);
      storeLanes(b.CreateShuffleVector(sum, high), output, at1);
    });
  });

  e.forRange(e.c64(0), used, [&](Value *lane) {
    Value *r = b.CreateUDiv(lane, e.c64(heads));
    Value *g = b.CreateURem(lane, e.c64(heads));
    Value *result = e.at(e.f32(), k.rowPtr(out, b.CreateAdd(t0, r), width),
                         b.CreateMul(b.CreateAdd(h.firstHead, g), e.c64(hd)));
    Value *inverse = b.CreateFDiv(e.cf(1.0f), e.loadF32(runningSum, lane));
    e.forRange(0, hd, [&](Value *d) {
      Value *own = e.loadF32(output, b.CreateAdd(b.CreateMul(d, e.c64(kLanes)), lane));
      e.storeF32(b.CreateFMul(own, inverse), result, d);
    });
  });
}

void FlashEmitter::emit() {
  e.ifElse(
      b.CreateICmpEQ(k.rows, e.c64(1)),
      [&] { e.forRange(k.begin, k.end, [&](Value *task) { rowTask(task); }); },
      [&] {
        // Task i: head group i / rows, row slot p = i % rows. The blocks
        // are aligned to the end: block 0 holds `first` rows (1..blockRows),
        // block c > 0 rows first + (c - 1) * blockRows.. Slot s is block s/2
        // for even s, block count-1-s/2 for odd s.
        Value *R = e.c64(blockRows);
        Value *blocks = b.CreateUDiv(b.CreateAdd(k.rows, e.c64(blockRows - 1)), R);
        Value *first = b.CreateSub(k.rows, b.CreateMul(b.CreateSub(blocks, e.c64(1)), R));
        e.forRange(k.begin, k.end, [&](Value *task) {
          Value *within = b.CreateUDiv(task, k.rows);
          Value *p = b.CreateURem(task, k.rows);
          Value *inFirst = b.CreateICmpULT(p, first);
          Value *pastFirst = b.CreateSub(p, first);
          Value *slot = b.CreateSelect(inFirst, e.c64(0),
                                       b.CreateAdd(b.CreateUDiv(pastFirst, R), e.c64(1)));
          Value *offset = b.CreateSelect(inFirst, p, b.CreateURem(pastFirst, R));
          Value *slotRows = b.CreateSelect(inFirst, first, R);
          Value *half = b.CreateLShr(slot, e.c64(1));
          Value *odd = b.CreateICmpNE(b.CreateAnd(slot, e.c64(1)), e.c64(0));
          Value *block =
              b.CreateSelect(odd, b.CreateSub(b.CreateSub(blocks, e.c64(1)), half), half);
          Value *blockStart = b.CreateSelect(
              b.CreateICmpEQ(block, e.c64(0)), e.c64(0),
              b.CreateAdd(first, b.CreateMul(b.CreateSub(block, e.c64(1)), R)));
          // A run starts at the share's first task or at a slot's first row.
          Value *starts = b.CreateOr(b.CreateICmpEQ(task, k.begin),
                                     b.CreateICmpEQ(offset, e.c64(0)));
          e.ifElse(
              starts,
              [&] {
                Value *n = b.CreateSub(slotRows, offset);
                Value *left = b.CreateSub(k.end, task);
                n = b.CreateSelect(b.CreateICmpULT(left, n), left, n);
                blockTask(within, b.CreateAdd(blockStart, offset), n);
              },
              [] {});
        });
      });
}

} // namespace

void emitFlashAttention(Kernel &k) { FlashEmitter(k).emit(); }

} // namespace kiln::codegen::cpu
