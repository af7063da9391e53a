#include "codegen/llvm/PackedKQuantDot.h"

#include "codegen/llvm/ByteVectors.h"
#include "codegen/llvm/GgmlNumerics.h"
#include "runtime/WeightLayout.h"

#include <array>

using namespace llvm;

namespace kiln::codegen::lowering {

namespace {

// Byte offsets in the q4_Kx16, q6_Kx16 and q8_0x16 records
// (runtime/WeightLayout.h).
constexpr int64_t kDminAt = 32, kScalesAt = 64, kQuantsAt = 256;
static_assert(kQuantsAt + 32 * 64 == runtime::kQ4KX16RecordBytes);
constexpr int64_t kQ6ScalesAt = 32, kQ6StepsAt = 288, kQ8QuantsAt = 32;
static_assert(kQ8QuantsAt + 8 * 64 == runtime::kQ8_0X16RecordBytes);
static_assert(kQ6StepsAt + 16 * 3 * 64 == runtime::kQ6KX16RecordBytes);

// One sixteen-row record and the activation rows it is dotted with.
struct PackedRecord {
  LoopEmitter &e;
  llvm::IRBuilder<> &b;
  ByteVectors v;
  Value *record, *blockIndex;
  ArrayRef<QuantizedRow> rows;
  std::vector<Value *> aBlocks; // row r's K-quant block: 256 bytes

  PackedRecord(LoopEmitter &e, const IntegerDotTarget &target, Value *record,
               Value *blockIndex, ArrayRef<QuantizedRow> rows)
      : e(e), b(e.b), v{e, e.b, target.hooks}, record(record), blockIndex(blockIndex),
        rows(rows) {
    for (const QuantizedRow &row : rows)
      aBlocks.push_back(e.at(b.getInt8Ty(), row.q, b.CreateMul(blockIndex, e.c64(256))));
  }
  FixedVectorType *ints() { return cast<FixedVectorType>(v.ints(16)); }
  FixedVectorType *floats() { return FixedVectorType::get(e.f32(), 16); }
  // The sixteen f16 at byte `at` as floats.
  Value *halves(int64_t at) {
    Value *bits = b.CreateAlignedLoad(FixedVectorType::get(b.getInt16Ty(), 16),
                                      e.at(b.getInt8Ty(), record, e.c64(at)), Align(1));
    return b.CreateFPExt(b.CreateBitCast(bits, FixedVectorType::get(b.getHalfTy(), 16)),
                         floats());
  }
  // Sub-block s's sixteen bytes at `at` + 16 s as 16 i32.
  Value *perColumn(int64_t at, Value *s, bool isSigned = false) {
    Value *bytes = v.load(record, b.CreateAdd(e.c64(at), b.CreateMul(s, e.c64(16))), 16);
    return isSigned ? b.CreateSExt(bytes, ints()) : b.CreateZExt(bytes, ints());
  }
  // Elements `element`..+3 of row r's block, broadcast to 64 bytes.
  Value *broadcast(size_t r, Value *element) {
    Value *four = e.loadU32(aBlocks[r], element);
    return b.CreateBitCast(b.CreateVectorSplat(16, four), v.bytes(64));
  }
  // Row r's sums of 16 (q8_K keeps 16 i32 per block).
  Value *sums16(size_t r) {
    return b.CreateAlignedLoad(
        ints(), e.at(e.i32(), rows[r].extra, b.CreateMul(blockIndex, e.c64(16))), Align(4));
  }
  // Zeroed 16 x i32 stack slots, one per row.
  std::vector<Value *> zeroSlots() {
    std::vector<Value *> slots;
    for (size_t r = 0; r < rows.size(); ++r) {
      slots.push_back(e.local(ints()));
      b.CreateStore(ConstantAggregateZero::get(ints()), slots.back());
    }
    return slots;
  }
  // slot += sum * scale
  void addScaled(Value *slot, Value *sum, Value *scale) {
    b.CreateStore(b.CreateAdd(b.CreateLoad(ints(), slot), b.CreateMul(sum, scale)), slot);
  }
  // acc[r] = fma(splat(d_a) * dw, float(sum), acc[r])
  void addFloat(Value *acc, size_t r, Value *dw, Value *sum) {
    Value *da = b.CreateVectorSplat(16, e.loadF32(rows[r].d, blockIndex));
    b.CreateStore(emitFma(b, b.CreateFMul(da, dw), b.CreateSIToFP(sum, floats()),
                          b.CreateLoad(floats(), acc)),
                  acc);
  }
};

// One row (decode) splits each accumulator's steps over two chains, so the
// byte dots do not wait on each other.
int chainsFor(ArrayRef<QuantizedRow> rows) { return rows.size() == 1 ? 2 : 1; }

} // namespace

void emitQ4KSixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 Value *record, Value *blockIndex,
                                 ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  PackedRecord k(e, target, record, blockIndex, rows);
  auto &b = e.b;
  ByteVectors &v = k.v;
  // The sixteen rows' six-bit scales and mins of sub-block s, from byte k
  // of their packed twelve (at kScalesAt + 16 k): s < 4, scale = B[s] & 63
  // and min = B[s + 4] & 63; else scale = (B[s + 4] & 15) | (B[s - 4] >> 6)
  // << 4 and min = (B[s + 4] >> 4) | (B[s] >> 6) << 4. The scales go to a
  // stack slot for the rolled loop to read.
  Value *packed[12];
  for (int i = 0; i < 12; ++i)
    packed[i] = v.load(record, e.c64(kScalesAt + 16 * i), 16);
  auto bits = [&](Value *x, int mask) { return b.CreateAnd(x, v.splat(mask, 16)); };
  auto shr = [&](Value *x, int by) { return b.CreateLShr(x, v.splat(by, 16)); };
  auto shl = [&](Value *x, int by) { return b.CreateShl(x, v.splat(by, 16)); };
  auto *scaleRows = ArrayType::get(k.ints(), 8);
  Value *scaleSlot = e.local(scaleRows);
  Value *mins[8];
  for (int s = 0; s < 8; ++s) {
    Value *scale = s < 4 ? bits(packed[s], 63)
                         : b.CreateOr(bits(packed[s + 4], 15), shl(shr(packed[s - 4], 6), 4));
    Value *min = s < 4 ? bits(packed[s + 4], 63)
                       : b.CreateOr(shr(packed[s + 4], 4), shl(shr(packed[s], 6), 4));
    b.CreateStore(b.CreateZExt(scale, k.ints()),
                  b.CreateConstInBoundsGEP2_32(scaleRows, scaleSlot, 0, s));
    mins[s] = b.CreateZExt(min, k.ints());
  }

  // S per row, over the four pairs of sub-blocks (2p, 2p + 1) that share
  // their nibble bytes. The loop stays rolled: one pair's quants live at a
  // time.
  const size_t R = rows.size();
  const int chains = chainsFor(rows);
  std::vector<Value *> scaled = k.zeroSlots();
  e.forRangeRolled(0, 4, [&](Value *p) {
    // sums[r][half][chain]: half 0 is sub-block 2p (low nibbles), 1 is 2p + 1.
    std::vector<std::array<std::array<Value *, 2>, 2>> sums(R);
    for (auto &row : sums)
      for (auto &half : row)
        half.fill(ConstantAggregateZero::get(k.ints()));
    Value *pairQuants = b.CreateAdd(e.c64(kQuantsAt), b.CreateMul(p, e.c64(8 * 64)));
    Value *pairElements = b.CreateMul(p, e.c64(64));
    for (int64_t step = 0; step < 8; ++step) {
      Value *chunk = v.load(record, b.CreateAdd(pairQuants, e.c64(64 * step)), 64);
      Value *quants[2] = {b.CreateAnd(chunk, v.splat(15, 64)),
                          b.CreateLShr(chunk, v.splat(4, 64))};
      for (size_t r = 0; r < R; ++r)
        for (int h = 0; h < 2; ++h) {
          Value *element = b.CreateAdd(pairElements, e.c64(32 * h + 4 * step));
          Value *&sum = sums[r][h][step % chains];
          sum = v.quadSums(sum, quants[h], k.broadcast(r, element));
        }
    }
    Value *sub = b.CreateShl(p, 1);
    auto scaleOf = [&](Value *s) {
      return b.CreateLoad(k.ints(), b.CreateInBoundsGEP(scaleRows, scaleSlot, {e.c64(0), s}));
    };
    Value *scales[2] = {scaleOf(sub), scaleOf(b.CreateOr(sub, e.c64(1)))};
    for (size_t r = 0; r < R; ++r)
      for (int h = 0; h < 2; ++h)
        k.addScaled(scaled[r], chains == 2 ? b.CreateAdd(sums[r][h][0], sums[r][h][1])
                                           : sums[r][h][0],
                    scales[h]);
  });

  // M per row from its sums of 16, then the block's two float steps.
  Value *d = k.halves(0), *dmin = k.halves(kDminAt);
  for (size_t r = 0; r < R; ++r) {
    Value *sums16 = k.sums16(r);
    Value *minTerms = nullptr;
    for (int s = 0; s < 8; ++s) {
      Value *bsum = b.CreateAdd(b.CreateExtractElement(sums16, uint64_t(2 * s)),
                                b.CreateExtractElement(sums16, uint64_t(2 * s + 1)));
      Value *term = b.CreateMul(mins[s], b.CreateVectorSplat(16, bsum));
      minTerms = minTerms ? b.CreateAdd(minTerms, term) : term;
    }
    k.addFloat(acc[r], r, d, b.CreateLoad(k.ints(), scaled[r]));
    k.addFloat(acc[r], r, b.CreateFNeg(dmin), minTerms);
  }
}

void emitQ6KSixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 Value *record, Value *blockIndex,
                                 ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  PackedRecord k(e, target, record, blockIndex, rows);
  auto &b = e.b;
  ByteVectors &v = k.v;
  const size_t R = rows.size();
  const int chains = chainsFor(rows);
  std::vector<Value *> scaled = k.zeroSlots();
  // Quarter i = 2n + h of the block: of each of its 128-element halves n,
  // the sub-blocks 8n + 2j + h (j = 0..3), each four steps of four
  // elements; step l (4h..4h+3) reads ql's run 16n + l (elements
  // 128n + 4l.. and 128n + 64 + 4l..) and run 16n + 8 + l (128n + 32 + 4l..,
  // 128n + 96 + 4l..) and qh's run 8n + l (the high bits of all four), in
  // the record's order. Rolled: one quarter's four sums per row live at a
  // time.
  e.forRangeRolled(0, 4, [&](Value *i) {
    Value *n = b.CreateLShr(i, 1), *h = b.CreateAnd(i, 1);
    // sums[r][j][chain]
    std::vector<std::array<std::array<Value *, 2>, 4>> sums(R);
    for (auto &row : sums)
      for (auto &sub : row)
        sub.fill(ConstantAggregateZero::get(k.ints()));
    Value *quarterAt = b.CreateAdd(e.c64(kQ6StepsAt), b.CreateMul(i, e.c64(4 * 192)));
    for (int64_t step = 0; step < 4; ++step) {
      Value *l = b.CreateAdd(b.CreateShl(h, 2), e.c64(step));
      auto chunk = [&](int64_t at) {
        return v.load(record, b.CreateAdd(quarterAt, e.c64(192 * step + at)), 64);
      };
      Value *low0 = chunk(0), *low1 = chunk(64), *high = chunk(128);
      auto bits = [&](Value *x, int mask) { return b.CreateAnd(x, v.splat(mask, 64)); };
      // Sub-block j's four elements: low bits | high bits << 4.
      Value *quants[4] = {
          b.CreateOr(bits(low0, 15), b.CreateShl(bits(high, 3), v.splat(4, 64))),
          b.CreateOr(bits(low1, 15), b.CreateShl(bits(high, 12), v.splat(2, 64))),
          b.CreateOr(b.CreateLShr(low0, v.splat(4, 64)), bits(high, 48)),
          b.CreateOr(b.CreateLShr(low1, v.splat(4, 64)),
                     b.CreateLShr(bits(high, 192), v.splat(2, 64)))};
      Value *base = b.CreateAdd(b.CreateShl(n, 7), b.CreateShl(l, 2));
      for (size_t r = 0; r < R; ++r)
        for (int j = 0; j < 4; ++j) {
          Value *&sum = sums[r][j][step % chains];
          sum = v.quadSums(sum, quants[j], k.broadcast(r, b.CreateAdd(base, e.c64(32 * j))));
        }
    }
    for (int j = 0; j < 4; ++j) {
      Value *scale = k.perColumn(kQ6ScalesAt, b.CreateOr(b.CreateShl(n, 3),
                                                         b.CreateOr(e.c64(2 * j), h)),
                                 /*isSigned=*/true);
      for (size_t r = 0; r < R; ++r)
        k.addScaled(scaled[r], chains == 2 ? b.CreateAdd(sums[r][j][0], sums[r][j][1])
                                           : sums[r][j][0],
                    scale);
    }
  });

  // M per row: the scales times the row's sums of 16; then d_w d_a (S - 32 M).
  Value *scales[16];
  for (int s = 0; s < 16; ++s)
    scales[s] = k.perColumn(kQ6ScalesAt, e.c64(s), /*isSigned=*/true);
  Value *d = k.halves(0);
  for (size_t r = 0; r < R; ++r) {
    Value *sums16 = k.sums16(r);
    Value *offsets = nullptr;
    for (int s = 0; s < 16; ++s) {
      Value *term = b.CreateMul(
          scales[s], b.CreateVectorSplat(16, b.CreateExtractElement(sums16, uint64_t(s))));
      offsets = offsets ? b.CreateAdd(offsets, term) : term;
    }
    Value *sum = b.CreateSub(b.CreateLoad(k.ints(), scaled[r]),
                             b.CreateShl(offsets, b.CreateVectorSplat(16, b.getInt32(5))));
    k.addFloat(acc[r], r, d, sum);
  }
}

void emitQ80SixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 Value *record, Value *blockIndex,
                                 ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  PackedRecord k(e, target, record, blockIndex, rows);
  auto &b = e.b;
  ByteVectors &v = k.v;
  // With vpdpbusd the quants go in as w + 128 (unsigned), and each row's
  // block takes 128 sum(a) off once: sum((w + 128) a) - 128 sum(a) =
  // sum(w a), exact in 32 bits. Without it, signed byte dots.
  const bool biased = v.hasQuadSums();
  Value *chunks[8];
  for (int64_t c = 0; c < 8; ++c) {
    chunks[c] = v.load(record, e.c64(kQ8QuantsAt + 64 * c), 64);
    if (biased)
      chunks[c] = b.CreateXor(chunks[c], v.splat(-128, 64));
  }
  Value *d = k.halves(0);
  const int chains = chainsFor(rows);
  for (size_t r = 0; r < rows.size(); ++r) {
    // Row r's block of 32 is bytes 32 j.. of its quants (one d per 32).
    Value *a = e.at(b.getInt8Ty(), rows[r].q, b.CreateMul(blockIndex, e.c64(32)));
    Value *sums[2] = {ConstantAggregateZero::get(k.ints()),
                      ConstantAggregateZero::get(k.ints())};
    for (int64_t c = 0; c < 8; ++c) {
      Value *four = b.CreateBitCast(b.CreateVectorSplat(16, e.loadU32(a, e.c64(4 * c))),
                                    v.bytes(64));
      Value *&sum = sums[c % chains];
      sum = biased ? v.quadSums(sum, chunks[c], four) : v.signedQuadSums(sum, chunks[c], four);
    }
    Value *sum = chains == 2 ? b.CreateAdd(sums[0], sums[1]) : sums[0];
    if (biased) {
      Value *sumA = b.CreateAddReduce(v.dotUnsigned(v.splat(1), v.load(a, e.c64(0)), nullptr));
      sum = b.CreateSub(sum, b.CreateVectorSplat(16, b.CreateShl(sumA, e.c32(7))));
    }
    k.addFloat(acc[r], r, d, sum);
  }
}

} // namespace kiln::codegen::lowering
