#include "codegen/llvm/IntegerDot.h"

#include "codegen/llvm/BlockVectors.h"
#include "codegen/llvm/ByteVectors.h"
#include "codegen/llvm/GgmlNumerics.h"

using namespace llvm;

namespace kiln::codegen::lowering {

namespace {

struct BlockDot {
  LoopEmitter &e;
  IRBuilder<> &b;
  ByteVectors &v;
  ArrayRef<QuantizedRow> rows;
  ArrayRef<DotAccumulators> acc;
  Value *blockIndex;

  Value *byteOffset(Value *index, int64_t scale, int64_t plus = 0) {
    return b.CreateAdd(b.CreateMul(index, e.c64(scale)), e.c64(plus));
  }
  Value *rowScale(size_t r) { return e.loadF32(rows[r].d, blockIndex); }
  // lanes[r] += float(sums) * scale
  void addLanes(size_t r, Value *sums, Value *scale) {
    auto *floats = FixedVectorType::get(e.f32(), kDotLanes);
    Value *sum = emitFma(b, b.CreateVectorSplat(kDotLanes, scale),
                         b.CreateSIToFP(sums, floats), b.CreateLoad(floats, acc[r].lanes));
    b.CreateStore(sum, acc[r].lanes);
  }
  // offset[r][0] = fma(x, y, offset[r][0])
  void addOffset(size_t r, Value *x, Value *y) {
    auto *four = FixedVectorType::get(e.f32(), 4);
    Value *lanes = b.CreateLoad(four, acc[r].offset);
    Value *first = emitFma(b, x, y, b.CreateExtractElement(lanes, uint64_t(0)));
    b.CreateStore(b.CreateInsertElement(lanes, first, uint64_t(0)), acc[r].offset);
  }

  // The 32 quants of a block of q8_0, q4_0, q5_0 (signed), q4_1 or q5_1
  // (unsigned, 0..31).
  Value *quants32(GgmlType format, Value *block) {
    bool hasMin = format == GgmlType::Q4_1 || format == GgmlType::Q5_1;
    bool fiveBit = format == GgmlType::Q5_0 || format == GgmlType::Q5_1;
    int64_t at = hasMin ? 4 : 2;
    if (format == GgmlType::Q8_0)
      return v.load(block, e.c64(2));
    Value *high = fiveBit ? v.fifthBits(block, e.c64(at)) : nullptr;
    Value *quants = v.nibbles(block, e.c64(fiveBit ? at + 4 : at));
    if (high)
      quants = b.CreateOr(quants, high);
    if (!hasMin)
      quants = b.CreateSub(quants, v.splat(fiveBit ? 16 : 8));
    return quants;
  }

  // q8_0, q4_0, q5_0 (signed quants) and q4_1, q5_1 (unsigned, with min),
  // against q8_0/q8_1 rows.
  void blocks32(GgmlType format, Value *block) {
    bool hasMin = format == GgmlType::Q4_1 || format == GgmlType::Q5_1;
    Value *d = e.loadHalf(block, e.c64(0));
    Value *m = hasMin ? e.loadHalf(block, e.c64(2)) : nullptr;
    Value *quants = quants32(format, block);
    for (size_t r = 0; r < rows.size(); ++r) {
      Value *a = v.load(rows[r].q, byteOffset(blockIndex, 32));
      Value *sums = hasMin ? v.dotUnsigned(quants, a, nullptr)
                           : v.dotSigned(quants, a, nullptr);
      addLanes(r, sums, b.CreateFMul(d, rowScale(r)));
      if (hasMin)
        addOffset(r, m, e.loadF32(rows[r].extra, blockIndex));
    }
  }

  // q4_K/q5_K: eight sub-blocks of 32 unsigned quants with 6-bit scales
  // and mins; sum = d * sum_j scale_j (q_j . a_j) - dmin * sum_j min_j sum(a_j),
  // the min terms in four lanes (q4_K) or one (q5_K) as llama.cpp keeps them.
  // The eight 6-bit scales and mins of a q4_K/q5_K block (12 bytes at
  // `scales`) as two <8 x i32>, unpacked in vectors: lane j < 4 is
  // scales[j] & 63 and scales[j+4] & 63; lane j >= 4 is
  // (scales[j+4] & 15) | (scales[j-4] >> 6) << 4 and
  // (scales[j+4] >> 4) | (scales[j] >> 6) << 4.
  std::pair<Value *, Value *> scalesAndMins(Value *scales) {
    Type *eight = v.ints(8);
    Value *a = b.CreateZExt(v.load(scales, e.c64(0), 8), eight); // scales[j]
    Value *c = b.CreateZExt(v.load(scales, e.c64(4), 8), eight); // scales[j+4]
    Value *before = v.shuffle(a, a, {0, 1, 2, 3, 0, 1, 2, 3});  // scales[j-4], j >= 4
    auto splat = [&](uint32_t x) { return b.CreateVectorSplat(8, b.getInt32(x)); };
    Value *scaleLow = b.CreateAnd(a, splat(63));
    Value *minLow = b.CreateAnd(c, splat(63));
    Value *scaleHigh = b.CreateOr(b.CreateAnd(c, splat(15)),
                                  b.CreateShl(b.CreateLShr(before, splat(6)), splat(4)));
    Value *minHigh = b.CreateOr(b.CreateLShr(c, splat(4)),
                                b.CreateShl(b.CreateLShr(a, splat(6)), splat(4)));
    const int merge[] = {0, 1, 2, 3, 12, 13, 14, 15};
    return {v.shuffle(scaleLow, scaleHigh, merge), v.shuffle(minLow, minHigh, merge)};
  }

  // The min terms of a q4_K/q5_K block for one row, four lanes (eight for
  // two columns' mins, column 0's first): lane k =
  // mins[2k] * (bsum 4k + bsum 4k+1) + mins[2k+1] * (bsum 4k+2 + bsum 4k+3),
  // `sums16` being the row's 16 int32 sums of 16 (the same integers in
  // vectors as llama.cpp's madd of mins and bsums).
  Value *minTerms(Value *mins, Value *sums16) {
    Value *low = b.CreateAlignedLoad(v.ints(8), sums16, Align(4));
    Value *high = b.CreateAlignedLoad(v.ints(8), e.at(e.i32(), sums16, e.c64(8)), Align(4));
    Value *perSubBlock = b.CreateAdd(v.shuffle(low, high, {0, 2, 4, 6, 8, 10, 12, 14}),
                                     v.shuffle(low, high, {1, 3, 5, 7, 9, 11, 13, 15}));
    // Two columns' mins (16 lanes): the same sums for both.
    const unsigned n = cast<FixedVectorType>(mins->getType())->getNumElements();
    if (n == 16)
      perSubBlock = v.concat(perSubBlock, perSubBlock);
    Value *terms = b.CreateMul(mins, perSubBlock);
    SmallVector<int, 8> even, odd;
    for (unsigned i = 0; i < n; i += 2)
      even.push_back(int(i)), odd.push_back(int(i + 1));
    return b.CreateAdd(v.shuffle(terms, terms, even), v.shuffle(terms, terms, odd));
  }

  // One chunk of 32 quants of a 256-block (bytes) and the i16 multipliers
  // of its pair sums.
  struct Chunk {
    Value *quants, *scale16;
  };

  // A q4_K/q5_K block's scales (in a slot, for the rolled chunk loop) and
  // mins, and where its quants are.
  struct Q45KBlock {
    Value *block, *scaleSlot, *mins, *qh;
    int64_t qs;
  };
  Q45KBlock q45KBlock(bool fiveBit, Value *block) {
    auto [scales, mins] = scalesAndMins(e.at(b.getInt8Ty(), block, e.c64(4)));
    return {block, spill(scales), mins, fiveBit ? v.load(block, e.c64(16)) : nullptr,
            fiveBit ? 48 : 16};
  }
  // Chunk j (an i64) of a q4_K/q5_K block.
  Chunk q45KChunk(const Q45KBlock &k, Value *j) {
    Value *sc = b.CreateLoad(e.i32(), e.at(e.i32(), k.scaleSlot, j));
    Value *packed =
        v.load(k.block, b.CreateAdd(e.c64(k.qs), b.CreateMul(b.CreateLShr(j, 1), e.c64(32))));
    Value *q = b.CreateAnd(b.CreateLShr(packed, v.splat(b.CreateShl(b.CreateAnd(j, 1), 2))),
                           v.splat(15));
    if (k.qh) {
      Value *bit = b.CreateAnd(b.CreateLShr(k.qh, v.splat(j)), v.splat(1));
      q = b.CreateOr(q, b.CreateShl(bit, v.splat(4)));
    }
    return {q, b.CreateVectorSplat(16, b.CreateTrunc(sc, b.getInt16Ty()))};
  }
  // The block's float part for every row, given the rows' integer sums.
  void q45KFinish(const Q45KBlock &k, ArrayRef<Value *> sums) {
    Value *d = e.loadHalf(k.block, e.c64(0));
    Value *dmin = e.loadHalf(k.block, e.c64(2));
    auto *four = FixedVectorType::get(e.f32(), 4);
    for (size_t r = 0; r < rows.size(); ++r) {
      Value *sums16 = e.at(e.i32(), rows[r].extra, b.CreateMul(blockIndex, e.c64(16)));
      Value *terms = minTerms(k.mins, sums16);
      Value *da = rowScale(r);
      addLanes(r, sums[r], b.CreateFMul(da, d));
      Value *negativeMin = b.CreateFNeg(b.CreateFMul(da, dmin));
      if (k.qh) { // llama.cpp's q5_K kernel adds its min terms as one float
        addOffset(r, negativeMin, e.toFloat(b.CreateAddReduce(terms)));
        continue;
      }
      Value *minScale = b.CreateVectorSplat(4, negativeMin);
      Value *offsets = b.CreateLoad(four, acc[r].offset);
      b.CreateStore(emitFma(b, minScale, b.CreateSIToFP(terms, four), offsets),
                    acc[r].offset);
    }
  }
  void q45K(bool fiveBit, Value *block) {
    Q45KBlock k = q45KBlock(fiveBit, block);
    q45KFinish(k, chunkSums([&](Value *j) { return q45KChunk(k, j); }, /*isSigned=*/false));
  }
  // Two columns' blocks at once, chunk by chunk in the halves of 512-bit
  // byte dots, and the float part for both columns in the halves of each
  // vector: per lane what q45K computes for its column.
  void q45KPair(bool fiveBit, ArrayRef<Value *> blocks, ArrayRef<PairAccumulators> acc) {
    Q45KBlock k[2] = {q45KBlock(fiveBit, blocks[0]), q45KBlock(fiveBit, blocks[1])};
    std::vector<Value *> sums = chunkSums(
        [&](Value *j) -> Chunk {
          Chunk low = q45KChunk(k[0], j), high = q45KChunk(k[1], j);
          return {v.concat(low.quants, high.quants), v.concat(low.scale16, high.scale16)};
        },
        /*isSigned=*/false, /*wide=*/true);
    Value *d = pairSplat(blocks, 0, 8), *dmin = pairSplat(blocks, 2, 4);
    Value *mins = v.concat(k[0].mins, k[1].mins);
    auto *eight = FixedVectorType::get(e.f32(), 8);
    for (size_t r = 0; r < rows.size(); ++r) {
      Value *sums16 = e.at(e.i32(), rows[r].extra, b.CreateMul(blockIndex, e.c64(16)));
      Value *terms = minTerms(mins, sums16);
      addPairLanes(acc[r], r, sums[r], d);
      Value *negativeMin = b.CreateFNeg(b.CreateFMul(b.CreateVectorSplat(8, rowScale(r)), dmin));
      Value *offsets = b.CreateLoad(eight, acc[r].offset);
      if (fiveBit) { // as q45K: one float per column, in its first lane
        for (int h = 0; h < 2; ++h) {
          Value *first = b.CreateExtractElement(offsets, uint64_t(4 * h));
          Value *term = e.toFloat(b.CreateAddReduce(v.half(terms, h)));
          first = emitFma(b, b.CreateExtractElement(negativeMin, uint64_t(4 * h)), term, first);
          offsets = b.CreateInsertElement(offsets, first, uint64_t(4 * h));
        }
      } else {
        offsets = emitFma(b, negativeMin, b.CreateSIToFP(terms, eight), offsets);
      }
      b.CreateStore(offsets, acc[r].offset);
    }
  }
  // [x of blocks[0] x n | x of blocks[1] x n], x the f16 at byte `at`.
  Value *pairSplat(ArrayRef<Value *> blocks, int64_t at, unsigned n) {
    return v.concat(b.CreateVectorSplat(n, e.loadHalf(blocks[0], e.c64(at))),
                    b.CreateVectorSplat(n, e.loadHalf(blocks[1], e.c64(at))));
  }
  // Both columns' lanes for row r += float(sums) * (d_a * d), sums and d
  // holding column 0 in lanes 0-7 and column 1 in lanes 8-15 (addLanes
  // per half).
  void addPairLanes(const PairAccumulators &into, size_t r, Value *sums, Value *d) {
    auto *floats = FixedVectorType::get(e.f32(), 16);
    Value *scale = b.CreateFMul(b.CreateVectorSplat(16, rowScale(r)), d);
    b.CreateStore(emitFma(b, scale, b.CreateSIToFP(sums, floats),
                          b.CreateLoad(floats, into.lanes)),
                  into.lanes);
  }

  // `values` in a stack slot, for a rolled loop to read one lane at a time
  // (a vector indexed by a variable would be stored again at every read).
  Value *spill(Value *values) {
    Value *slot = e.local(values->getType());
    b.CreateStore(values, slot);
    return slot;
  }

  // The integer sums of a 256-block's eight chunks of 32 against every
  // row, chunk c's pair sums times its scale16 (chunk(c) unpacks chunk c,
  // c an i64). One row (decode): the chunks unrolled. Several rows (a
  // prefill tile): a loop over pairs of chunks kept rolled, so that one
  // pair's quants and scales are live at a time. Unrolled, LLVM's machine
  // scheduler hoisted all eight chunks' unpacking above the rows and AVX2's
  // 16 registers spilled (69 of the 283 instructions of the q4_K 4-row
  // block); rolled, the pair's loop is 33 instructions with no spill, and
  // the TinyLlama q4_K ffn block at 128 rows runs in 81 ms against 98
  // (kiln_bench_kernels, Zen 3). Integer adds: the order changes no bit.
  // Wide: each chunk holds two columns' (64 quants, 32 multipliers), each
  // row's 32 activations go to both halves, and the sums have 16 lanes.
  std::vector<Value *> chunkSums(function_ref<Chunk(Value *)> chunk, bool isSigned,
                                 bool wide = false) {
    auto part = [&](size_t r, Value *c, const Chunk &q) {
      Value *a = v.load(rows[r].q, b.CreateAdd(b.CreateMul(blockIndex, e.c64(256)),
                                               b.CreateMul(c, e.c64(32))));
      if (wide)
        a = v.concat(a, a);
      return isSigned ? v.dotSigned(q.quants, a, q.scale16)
                      : v.dotUnsigned(q.quants, a, q.scale16);
    };
    const unsigned lanes = wide ? 16 : 8;
    std::vector<Value *> sums(rows.size(), nullptr);
    if (rows.size() == 1) {
      for (int c = 0; c < 8; ++c) {
        Value *index = e.c64(c);
        Value *sum = part(0, index, chunk(index));
        sums[0] = sums[0] ? b.CreateAdd(sums[0], sum) : sum;
      }
      return sums;
    }
    std::vector<Value *> slots;
    for (size_t r = 0; r < rows.size(); ++r) {
      slots.push_back(e.local(v.ints(lanes)));
      b.CreateStore(ConstantAggregateZero::get(v.ints(lanes)), slots.back());
    }
    // Two chunks an iteration: c & 1 is then a constant (chunks 2p and
    // 2p + 1 often differ only by a shift).
    e.forRangeRolled(0, 4, [&](Value *pair) {
      for (int half = 0; half < 2; ++half) {
        Value *c = b.CreateOr(b.CreateShl(pair, 1), e.c64(half));
        Chunk q = chunk(c);
        for (size_t r = 0; r < rows.size(); ++r)
          b.CreateStore(b.CreateAdd(b.CreateLoad(v.ints(lanes), slots[r]), part(r, c, q)),
                        slots[r]);
      }
    });
    for (size_t r = 0; r < rows.size(); ++r)
      sums[r] = b.CreateLoad(v.ints(lanes), slots[r]);
    return sums;
  }
  // lanes[r] += chunk sums * (d_a * d) for every row.
  void addChunks(function_ref<Chunk(Value *)> chunk, Value *d, bool isSigned) {
    std::vector<Value *> sums = chunkSums(chunk, isSigned);
    for (size_t r = 0; r < rows.size(); ++r)
      addLanes(r, sums[r], b.CreateFMul(rowScale(r), d));
  }

  // Scales of 16 elements as the i16 multipliers of chunk c's pair sums:
  // lanes 0-7 take scale 2c, lanes 8-15 scale 2c + 1.
  Value *chunkScales(Value *first, Value *second) {
    SmallVector<int, 16> halves;
    for (int i = 0; i < 16; ++i)
      halves.push_back(i < 8 ? i : 16 + i);
    return v.shuffle(b.CreateVectorSplat(16, first), b.CreateVectorSplat(16, second), halves);
  }

  // q2_K: 2-bit quants, a 4-bit scale and a 4-bit min per 16 elements;
  // chunk c = 4h + k (32 elements at 32c) holds (qs[32h + l] >> 2k) & 3.
  // As llama.cpp, the min terms enter the eight lanes first (lane i: mins
  // 2i and 2i + 1 times their sums), then the quants.
  void q2K(Value *block) {
    Value *d = e.loadHalf(block, e.c64(80));
    Value *dmin = e.loadHalf(block, e.c64(82));
    Value *packed = v.load(block, e.c64(0), 16);
    Value *scales =
        spill(b.CreateZExt(b.CreateAnd(packed, v.splat(15, 16)), v.shorts(16)));
    Value *mins = b.CreateZExt(b.CreateLShr(packed, v.splat(4, 16)), v.ints(16));
    auto chunk = [&](Value *c) -> Chunk {
      Value *h = b.CreateLShr(c, 2), *k = b.CreateAnd(c, 3);
      Value *first = b.CreateAdd(b.CreateMul(h, e.c64(8)), b.CreateMul(k, e.c64(2)));
      Value *quants = v.load(block, b.CreateAdd(e.c64(16), b.CreateMul(h, e.c64(32))));
      auto scale = [&](Value *index) {
        return b.CreateLoad(b.getInt16Ty(), e.at(b.getInt16Ty(), scales, index));
      };
      return {b.CreateAnd(b.CreateLShr(quants, v.splat(b.CreateShl(k, 1))), v.splat(3)),
              chunkScales(scale(first), scale(b.CreateAdd(first, e.c64(1))))};
    };
    std::vector<Value *> sums = chunkSums(chunk, /*isSigned=*/false);
    SmallVector<int, 8> even, odd;
    for (int i = 0; i < 8; ++i)
      even.push_back(2 * i), odd.push_back(2 * i + 1);
    for (size_t r = 0; r < rows.size(); ++r) {
      Value *sums16 = b.CreateAlignedLoad(
          v.ints(16), e.at(e.i32(), rows[r].extra, b.CreateMul(blockIndex, e.c64(16))),
          Align(4));
      Value *products = b.CreateMul(mins, sums16);
      Value *minLanes = b.CreateAdd(v.shuffle(products, products, even),
                                    v.shuffle(products, products, odd));
      Value *da = rowScale(r);
      addLanes(r, minLanes, b.CreateFNeg(b.CreateFMul(da, dmin)));
      addLanes(r, sums[r], b.CreateFMul(da, d));
    }
  }

  // q3_K: 2 low bits in qs as q2_K's, a high bit in hmask (bit c of
  // hmask[l] for chunk c; clear means minus 4), 6-bit scales minus 32
  // packed in 12 bytes: scale 4g + i takes its low nibble from byte
  // i (g = 0), 4 + i (g = 1), i >> 4 (g = 2), 4 + i >> 4 (g = 3) and its
  // two high bits from byte 8 + i at bit 2g.
  void q3K(Value *block) {
    Value *d = e.loadHalf(block, e.c64(108));
    Value *packed = e.at(b.getInt8Ty(), block, e.c64(96));
    // Scale `index` (i64): g = index / 4, i = index % 4.
    auto scale = [&](Value *index) {
      Value *g = b.CreateTrunc(b.CreateLShr(index, 2), e.i32());
      Value *i = b.CreateAnd(index, 3);
      Value *lowByte = e.loadByte(packed, b.CreateOr(i, b.CreateAnd(index, 4)));
      Value *low = b.CreateAnd(b.CreateLShr(lowByte, b.CreateShl(b.CreateLShr(g, 1), 2)),
                               e.c32(15));
      Value *high = b.CreateAnd(
          b.CreateLShr(e.loadByte(packed, b.CreateAdd(e.c64(8), i)), b.CreateShl(g, 1)),
          e.c32(3));
      Value *value = b.CreateSub(b.CreateOr(low, b.CreateShl(high, e.c32(4))), e.c32(32));
      return b.CreateTrunc(value, b.getInt16Ty());
    };
    Value *hmask = v.load(block, e.c64(0));
    auto chunk = [&](Value *c) -> Chunk {
      Value *h = b.CreateLShr(c, 2), *k = b.CreateAnd(c, 3);
      Value *packedLow = v.load(block, b.CreateAdd(e.c64(32), b.CreateMul(h, e.c64(32))));
      Value *low = b.CreateAnd(b.CreateLShr(packedLow, v.splat(b.CreateShl(k, 1))), v.splat(3));
      Value *high = b.CreateAnd(b.CreateLShr(hmask, v.splat(c)), v.splat(1));
      Value *minus = b.CreateSelect(b.CreateICmpEQ(high, v.splat(0)), v.splat(4), v.splat(0));
      Value *first = b.CreateAdd(b.CreateMul(h, e.c64(8)), b.CreateMul(k, e.c64(2)));
      return {b.CreateSub(low, minus),
              chunkScales(scale(first), scale(b.CreateAdd(first, e.c64(1))))};
    };
    addChunks(chunk, d, /*isSigned=*/true);
  }

  // q6_K: quants of 6 bits minus 32, int8 scales per 16 elements. Chunk
  // c = 4h + k (32 elements at 32c) takes its low nibbles from
  // ql[64h + 32(k%2)] >> 4(k/2), its high bits from qh[32h] >> 2k (c an
  // i64).
  Chunk q6KChunk(Value *block, Value *c) {
    Value *h = b.CreateLShr(c, 2), *k = b.CreateAnd(c, 3);
    Value *lowAt =
        b.CreateAdd(b.CreateMul(h, e.c64(64)), b.CreateMul(b.CreateAnd(k, 1), e.c64(32)));
    Value *low = b.CreateAnd(
        b.CreateLShr(v.load(block, lowAt), v.splat(b.CreateShl(b.CreateLShr(k, 1), 2))),
        v.splat(15));
    Value *highAt = b.CreateAdd(e.c64(128), b.CreateMul(h, e.c64(32)));
    Value *high = b.CreateAnd(b.CreateLShr(v.load(block, highAt), v.splat(b.CreateShl(k, 1))),
                              v.splat(3));
    auto scaleAt = [&](Value *index) {
      return b.CreateSExt(b.CreateLoad(b.getInt8Ty(), e.at(b.getInt8Ty(), block,
                                                           b.CreateAdd(e.c64(192), index))),
                          b.getInt16Ty());
    };
    Value *first = b.CreateAdd(b.CreateMul(h, e.c64(8)), b.CreateMul(k, e.c64(2)));
    return {b.CreateSub(b.CreateOr(low, b.CreateShl(high, v.splat(4))), v.splat(32)),
            chunkScales(scaleAt(first), scaleAt(b.CreateAdd(first, e.c64(1))))};
  }
  void q6K(Value *block) {
    addChunks([&](Value *c) { return q6KChunk(block, c); }, e.loadHalf(block, e.c64(208)),
              /*isSigned=*/true);
  }
  // Two columns' q6_K blocks at once, as q45KPair.
  void q6KPair(ArrayRef<Value *> blocks, ArrayRef<PairAccumulators> acc) {
    std::vector<Value *> sums = chunkSums(
        [&](Value *c) -> Chunk {
          Chunk low = q6KChunk(blocks[0], c), high = q6KChunk(blocks[1], c);
          return {v.concat(low.quants, high.quants), v.concat(low.scale16, high.scale16)};
        },
        /*isSigned=*/true, /*wide=*/true);
    Value *d = pairSplat(blocks, 208, 8);
    for (size_t r = 0; r < rows.size(); ++r)
      addPairLanes(acc[r], r, sums[r], d);
  }
  // Two columns' blocks of 32 signed quants without a min, as q45KPair.
  void blocks32Pair(GgmlType format, ArrayRef<Value *> blocks, ArrayRef<PairAccumulators> acc) {
    Value *quants = v.concat(quants32(format, blocks[0]), quants32(format, blocks[1]));
    Value *d = pairSplat(blocks, 0, 8);
    Value *ones = b.CreateVectorSplat(32, b.getInt16(1));
    for (size_t r = 0; r < rows.size(); ++r) {
      Value *a = v.load(rows[r].q, byteOffset(blockIndex, 32));
      addPairLanes(acc[r], r, v.hooks->dotSigned(b, quants, v.concat(a, a), ones), d);
    }
  }
};

} // namespace

namespace {

// One column's eight lanes summed interleaved + ((offsets0 + offsets2) +
// (offsets1 + offsets3)).
Value *dotResultOf(LoopEmitter &e, Value *lanes, Value *offsets) {
  auto &b = e.b;
  IRBuilder<>::FastMathFlagGuard guard(b);
  b.clearFastMathFlags();
  auto lane = [&](int i) { return b.CreateExtractElement(offsets, uint64_t(i)); };
  Value *offset = b.CreateFAdd(b.CreateFAdd(lane(0), lane(2)),
                               b.CreateFAdd(lane(1), lane(3)));
  return b.CreateFAdd(emitLaneSum(b, lanes, LaneTree::Interleaved), offset);
}

} // namespace

Value *emitDotResult(LoopEmitter &e, const DotAccumulators &acc) {
  auto &b = e.b;
  return dotResultOf(e, b.CreateLoad(FixedVectorType::get(e.f32(), kDotLanes), acc.lanes),
                     b.CreateLoad(FixedVectorType::get(e.f32(), 4), acc.offset));
}

namespace {

// acc += float(sums - 8 sum(a)) * (scales * d_a), per lane: `sums` (8 or
// 16 i32, one column per lane) are the column's nibbles (0..15) dotted
// with the row's block `aBytes`, so subtracting 8 sum(a) makes them the
// sums of q - 8 (both exact in 32 bits).
void addQ40Sums(LoopEmitter &e, ByteVectors &v, Value *sums, Value *aBytes, Value *scales,
                const QuantizedRow &row, Value *blockIndex, Value *acc) {
  auto &b = e.b;
  unsigned n = cast<FixedVectorType>(sums->getType())->getNumElements();
  auto *floats = FixedVectorType::get(e.f32(), n);
  Value *eightSumA =
      b.CreateShl(b.CreateAddReduce(v.dotUnsigned(v.splat(1), aBytes, nullptr)), e.c32(3));
  sums = b.CreateSub(sums, b.CreateVectorSplat(n, eightSumA));
  Value *da = e.loadF32(row.d, blockIndex);
  Value *scale = b.CreateFMul(scales, b.CreateVectorSplat(n, da));
  b.CreateStore(emitFma(b, b.CreateSIToFP(sums, floats), scale, b.CreateLoad(floats, acc)), acc);
}

// The eight columns' block sums with each row, given their nibble arrays
// (16 bytes each, at nibbles[c]) and their eight f16 scales as integers.
void q40EightColumns(LoopEmitter &e, const IntegerDotTarget &target,
                     ArrayRef<Value *> nibbles, Value *halves, Value *blockIndex,
                     ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  auto &b = e.b;
  ByteVectors v{e, b, target.hooks};
  auto *floats = FixedVectorType::get(e.f32(), 8);
  // The nibbles as they are (0..15): sum((q - 8) a) = sum(q a) - 8 sum(a),
  // both exact in 32 bits, so each row's block sum of a is taken once for
  // the eight columns instead of making every column's quants signed.
  Value *quants[8];
  for (unsigned c = 0; c < 8; ++c)
    quants[c] = v.nibbles(nibbles[c], e.c64(0));
  Value *scales = b.CreateFPExt(
      b.CreateBitCast(halves, FixedVectorType::get(b.getHalfTy(), 8)), floats);
  // Eight vectors of eight partial sums -> one vector of their totals, in
  // pairs: lane i of pairSums(x, y) is the sum of a pair of x's lanes (i < 4)
  // or of y's.
  auto pairSums = [&](Value *x, Value *y) {
    SmallVector<int, 8> even, odd;
    for (int i = 0; i < 8; ++i)
      even.push_back(2 * i), odd.push_back(2 * i + 1);
    return b.CreateAdd(v.shuffle(x, y, even), v.shuffle(x, y, odd));
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    Value *a = v.load(rows[r].q, b.CreateMul(blockIndex, e.c64(32)));
    Value *level[8];
    for (unsigned c = 0; c < 8; ++c)
      level[c] = v.dotUnsigned(quants[c], a, nullptr);
    if (target.hooks) {
      level[0] = target.hooks->columnTotals(b, level);
    } else {
      // 8 -> 4 -> 2 -> 1 vectors; the lanes end in column order.
      for (unsigned count = 8; count > 1; count /= 2)
        for (unsigned c = 0; c < count / 2; ++c)
          level[c] = pairSums(level[2 * c], level[2 * c + 1]);
    }
    addQ40Sums(e, v, level[0], a, scales, rows[r], blockIndex, acc[r]);
  }
}

} // namespace

void emitQ40EightColumns(LoopEmitter &e, const IntegerDotTarget &target,
                         ArrayRef<Value *> blocks, Value *blockIndex,
                         ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  auto &b = e.b;
  // The eight f16 scales gathered as integers, converted at once.
  Value *halves = PoisonValue::get(FixedVectorType::get(b.getInt16Ty(), 8));
  Value *nibbles[8];
  for (unsigned c = 0; c < 8; ++c) {
    Value *bits = b.CreateAlignedLoad(b.getInt16Ty(), blocks[c], Align(1));
    halves = b.CreateInsertElement(halves, bits, uint64_t(c));
    nibbles[c] = e.at(b.getInt8Ty(), blocks[c], e.c64(2));
  }
  q40EightColumns(e, target, nibbles, halves, blockIndex, rows, acc);
}

void emitQ40EightPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                               Value *record, Value *blockIndex,
                               ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  auto &b = e.b;
  ByteVectors v{e, b, target.hooks};
  auto *floats = FixedVectorType::get(e.f32(), 8);
  Value *halves =
      b.CreateAlignedLoad(FixedVectorType::get(b.getInt16Ty(), 8), record, Align(1));
  Value *scales = b.CreateFPExt(
      b.CreateBitCast(halves, FixedVectorType::get(b.getHalfTy(), 8)), floats);
  // Step s < 4: elements 4s..4s+3 of the eight rows (chunk s, low
  // nibbles); step 4 + s: elements 16+4s.. (its high nibbles).
  Value *steps[8];
  for (unsigned s = 0; s < 4; ++s) {
    Value *chunk = v.load(record, e.c64(16 + 32 * s));
    steps[s] = b.CreateAnd(chunk, v.splat(15));
    steps[4 + s] = b.CreateLShr(chunk, v.splat(4));
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    Value *a = e.at(b.getInt8Ty(), rows[r].q, b.CreateMul(blockIndex, e.c64(32)));
    auto broadcast = [&](int64_t element) {
      Value *four = e.loadU32(a, e.c64(element));
      return b.CreateBitCast(b.CreateVectorSplat(8, four), v.bytes(32));
    };
    Value *sums;
    if (v.hooks && v.hooks->hasQuadDots()) {
      sums = ConstantAggregateZero::get(v.ints(8));
      for (unsigned s = 0; s < 8; ++s)
        sums = v.hooks->quadDots(b, sums, steps[s],
                                 broadcast(s < 4 ? 4 * s : 16 + 4 * (s - 4)));
    } else {
      Value *sum16 = nullptr;
      for (unsigned s = 0; s < 8; ++s) {
        Value *pairs = v.pairSums(steps[s], broadcast(s < 4 ? 4 * s : 16 + 4 * (s - 4)));
        sum16 = sum16 ? b.CreateAdd(sum16, pairs) : pairs;
      }
      sums = v.widenPairs(sum16);
    }
    addQ40Sums(e, v, sums, v.load(a, e.c64(0)), scales, rows[r], blockIndex, acc[r]);
  }
}

void emitQ40SixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 ArrayRef<Value *> records, Value *blockIndex,
                                 ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  auto &b = e.b;
  ByteVectors v{e, b, target.hooks};
  assert(target.hooks && target.hooks->hasWideQuadDots());
  auto *floats = FixedVectorType::get(e.f32(), 16);
  auto both = [&](Value *low, Value *high) { return v.concat(low, high); };
  auto *eightHalves = FixedVectorType::get(b.getInt16Ty(), 8);
  Value *halves = both(b.CreateAlignedLoad(eightHalves, records[0], Align(1)),
                       b.CreateAlignedLoad(eightHalves, records[1], Align(1)));
  Value *scales = b.CreateFPExt(
      b.CreateBitCast(halves, FixedVectorType::get(b.getHalfTy(), 16)), floats);
  // Steps as in emitQ40EightPackedColumns, the two records side by side.
  Value *steps[8];
  for (unsigned s = 0; s < 4; ++s) {
    Value *chunk = both(v.load(records[0], e.c64(16 + 32 * s)),
                        v.load(records[1], e.c64(16 + 32 * s)));
    steps[s] = b.CreateAnd(chunk, v.splat(15, 64));
    steps[4 + s] = b.CreateLShr(chunk, v.splat(4, 64));
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    Value *a = e.at(b.getInt8Ty(), rows[r].q, b.CreateMul(blockIndex, e.c64(32)));
    auto broadcast = [&](int64_t element) {
      Value *four = e.loadU32(a, e.c64(element));
      return b.CreateBitCast(b.CreateVectorSplat(16, four), v.bytes(64));
    };
    Value *sums = ConstantAggregateZero::get(v.ints(16));
    for (unsigned s = 0; s < 8; ++s)
      sums = target.hooks->quadDots(b, sums, steps[s],
                                    broadcast(s < 4 ? 4 * s : 16 + 4 * (s - 4)));
    addQ40Sums(e, v, sums, v.load(a, e.c64(0)), scales, rows[r], blockIndex, acc[r]);
  }
}

bool hasPairIntegerDot(GgmlType weights) {
  switch (weights) {
  case GgmlType::Q8_0: case GgmlType::Q5_0: case GgmlType::Q4_0:
  case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    return true;
  default:
    return false;
  }
}

void emitPairIntegerDot(LoopEmitter &e, const IntegerDotTarget &target, GgmlType weights,
                        ArrayRef<Value *> blocks, Value *blockIndex,
                        ArrayRef<QuantizedRow> rows, ArrayRef<PairAccumulators> acc) {
  assert(hasPairIntegerDot(weights) && target.hooks && target.hooks->hasWideDots());
  ByteVectors v{e, e.b, target.hooks};
  BlockDot dot{e, e.b, v, rows, {}, blockIndex};
  switch (weights) {
  case GgmlType::Q4_K: dot.q45KPair(false, blocks, acc); break;
  case GgmlType::Q5_K: dot.q45KPair(true, blocks, acc); break;
  case GgmlType::Q6_K: dot.q6KPair(blocks, acc); break;
  default: dot.blocks32Pair(weights, blocks, acc); break;
  }
}

Value *emitPairDotResult(LoopEmitter &e, const PairAccumulators &acc, int column) {
  auto &b = e.b;
  ByteVectors v{e, b, nullptr};
  Value *lanes = b.CreateLoad(FixedVectorType::get(e.f32(), 16), acc.lanes);
  Value *offsets = b.CreateLoad(FixedVectorType::get(e.f32(), 8), acc.offset);
  return dotResultOf(e, v.half(lanes, column), v.half(offsets, column));
}

bool hasIntegerDot(GgmlType weights) {
  switch (weights) {
  case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1:
  case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q2_K:
  case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
  case GgmlType::Q6_K:
    return true;
  default:
    return false;
  }
}

int64_t integerDotBlockElements(GgmlType weights) {
  return ggmlTypeInfo(weights).blockSize;
}

void emitBlockIntegerDot(LoopEmitter &e, const IntegerDotTarget &target,
                         GgmlType weights, Value *block, Value *blockIndex,
                         ArrayRef<QuantizedRow> rows,
                         ArrayRef<DotAccumulators> acc) {
  ByteVectors bytes{e, e.b, target.hooks};
  BlockDot dot{e, e.b, bytes, rows, acc, blockIndex};
  switch (weights) {
  case GgmlType::Q2_K: dot.q2K(block); break;
  case GgmlType::Q3_K: dot.q3K(block); break;
  case GgmlType::Q4_K: dot.q45K(false, block); break;
  case GgmlType::Q5_K: dot.q45K(true, block); break;
  case GgmlType::Q6_K: dot.q6K(block); break;
  default: dot.blocks32(weights, block); break;
  }
}

} // namespace kiln::codegen::lowering
