#include "codegen/llvm/Q4KPackedDot.h"

#include "codegen/llvm/ByteVectors.h"
#include "codegen/llvm/GgmlNumerics.h"
#include "runtime/WeightLayout.h"

#include <array>

using namespace llvm;

namespace kiln::codegen::lowering {

namespace {

// Byte offsets in a q4_Kx16 record (runtime/WeightLayout.h).
constexpr int64_t kDminAt = 32, kScalesAt = 64, kMinsAt = 192, kQuantsAt = 320;
static_assert(kQuantsAt + 32 * 64 == runtime::kQ4KX16RecordBytes);

} // namespace

void emitQ4KSixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 Value *record, Value *blockIndex,
                                 ArrayRef<QuantizedRow> rows, ArrayRef<Value *> acc) {
  auto &b = e.b;
  ByteVectors v{e, b, target.hooks};
  auto *ints = cast<FixedVectorType>(v.ints(16));
  auto *floats = FixedVectorType::get(e.f32(), 16);
  auto halves = [&](int64_t at) {
    Value *bits = b.CreateAlignedLoad(FixedVectorType::get(b.getInt16Ty(), 16),
                                      e.at(b.getInt8Ty(), record, e.c64(at)), Align(1));
    return b.CreateFPExt(b.CreateBitCast(bits, FixedVectorType::get(b.getHalfTy(), 16)),
                         floats);
  };
  // Sub-block s's sixteen scales (or mins) as 16 i32.
  auto perColumn = [&](int64_t at, Value *s) {
    return b.CreateZExt(v.load(record, b.CreateAdd(e.c64(at), b.CreateMul(s, e.c64(16))), 16),
                        ints);
  };
  // Row r's block: its 256 bytes, and four of them broadcast to 64.
  std::vector<Value *> aBlocks;
  for (const QuantizedRow &row : rows)
    aBlocks.push_back(e.at(b.getInt8Ty(), row.q, b.CreateMul(blockIndex, e.c64(256))));
  auto broadcast = [&](size_t r, Value *element) {
    Value *four = e.loadU32(aBlocks[r], element);
    return b.CreateBitCast(b.CreateVectorSplat(16, four), v.bytes(64));
  };

  // S per row, over the four pairs of sub-blocks (2p, 2p + 1) that share
  // their nibble bytes. The loop stays rolled: one pair's quants live at a
  // time. One row (decode) splits each sub-block's eight steps over two
  // accumulators, so the byte dots do not wait on each other.
  const size_t R = rows.size();
  const int chains = R == 1 ? 2 : 1;
  std::vector<Value *> scaled;
  for (size_t r = 0; r < R; ++r) {
    scaled.push_back(e.local(ints));
    b.CreateStore(ConstantAggregateZero::get(ints), scaled.back());
  }
  e.forRangeRolled(0, 4, [&](Value *p) {
    // sums[r][half][chain]: half 0 is sub-block 2p (low nibbles), 1 is 2p + 1.
    std::vector<std::array<std::array<Value *, 2>, 2>> sums(R);
    for (auto &row : sums)
      for (auto &half : row)
        half.fill(ConstantAggregateZero::get(ints));
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
          sum = v.quadSums(sum, quants[h], broadcast(r, element));
        }
    }
    Value *sub = b.CreateShl(p, 1);
    Value *scales[2] = {perColumn(kScalesAt, sub),
                        perColumn(kScalesAt, b.CreateOr(sub, e.c64(1)))};
    for (size_t r = 0; r < R; ++r) {
      Value *total = b.CreateLoad(ints, scaled[r]);
      for (int h = 0; h < 2; ++h) {
        Value *sum = chains == 2 ? b.CreateAdd(sums[r][h][0], sums[r][h][1]) : sums[r][h][0];
        total = b.CreateAdd(total, b.CreateMul(sum, scales[h]));
      }
      b.CreateStore(total, scaled[r]);
    }
  });

  // M per row from its sums of 16 (q8_K keeps 16 i32 per block), then the
  // block's two float steps.
  Value *mins[8];
  for (int s = 0; s < 8; ++s)
    mins[s] = perColumn(kMinsAt, e.c64(s));
  Value *d = halves(0), *dmin = halves(kDminAt);
  auto *sixteen = cast<FixedVectorType>(v.ints(16));
  for (size_t r = 0; r < R; ++r) {
    Value *sums16 = b.CreateAlignedLoad(
        sixteen, e.at(e.i32(), rows[r].extra, b.CreateMul(blockIndex, e.c64(16))), Align(4));
    Value *minTerms = nullptr;
    for (int s = 0; s < 8; ++s) {
      Value *bsum = b.CreateAdd(b.CreateExtractElement(sums16, uint64_t(2 * s)),
                                b.CreateExtractElement(sums16, uint64_t(2 * s + 1)));
      Value *term = b.CreateMul(mins[s], b.CreateVectorSplat(16, bsum));
      minTerms = minTerms ? b.CreateAdd(minTerms, term) : term;
    }
    Value *da = b.CreateVectorSplat(16, e.loadF32(rows[r].d, blockIndex));
    Value *sum = b.CreateLoad(floats, acc[r]);
    sum = emitFma(b, b.CreateFMul(da, d), b.CreateSIToFP(b.CreateLoad(ints, scaled[r]), floats),
                  sum);
    sum = emitFma(b, b.CreateFNeg(b.CreateFMul(da, dmin)), b.CreateSIToFP(minTerms, floats),
                  sum);
    b.CreateStore(sum, acc[r]);
  }
}

} // namespace kiln::codegen::lowering
