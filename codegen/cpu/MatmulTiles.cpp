#include "codegen/cpu/MatmulTiles.h"

#include "codegen/llvm/WeightDecode.h"

#include "llvm/IR/Intrinsics.h"

#include <algorithm>

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

// The weight bytes of one block of columns in prefill (MatmulTiles.h).
constexpr int64_t kBlockWeightBytes = 192 * 1024;

void forEachMicroTile(Kernel &k, const MatmulSlice &slice, MicroTiles tiles,
                      const MicroKernel &body) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  Value *first = slice.first, *last = slice.last;
  // Columns [lo, hi) of rows [t0, t0 + R): groups of C from lo, then (in
  // a batch) groups of leftoverColumns, then one at a time.
  auto columns = [&](Value *lo, Value *hi, Value *t0, int64_t R, int64_t C, bool batched) {
    auto groupsOf = [&](Value *from, int64_t width) {
      Value *groups = b.CreateUDiv(b.CreateSub(hi, from), e.c64(width));
      e.forRange(e.c64(0), groups, [&](Value *g) {
        body(t0, R, b.CreateAdd(from, b.CreateMul(g, e.c64(width))), width, batched);
      });
      return b.CreateAdd(from, b.CreateMul(groups, e.c64(width)));
    };
    Value *rest = groupsOf(lo, C);
    if (batched && tiles.leftoverColumns > 1 && tiles.leftoverColumns < C)
      rest = groupsOf(rest, tiles.leftoverColumns);
    e.forRange(rest, hi, [&](Value *n) { body(t0, R, n, 1, batched); });
  };
  Value *rowGroups = b.CreateUDiv(k.rows, e.c64(tiles.batchRows));
  const int64_t C = tiles.batchColumns;
  const int64_t weightRowBytes = rowBytes(slice.format, k.d.cols);
  const int64_t block = std::max<int64_t>(1, kBlockWeightBytes / weightRowBytes / C) * C;
  e.ifElse(
      b.CreateICmpSGT(k.rows, e.c64(1)),
      [&] {
        Value *span = b.CreateSub(last, first);
        Value *blocks = b.CreateUDiv(b.CreateAdd(span, e.c64(block - 1)), e.c64(block));
        e.forRange(e.c64(0), blocks, [&](Value *j) {
          Value *lo = b.CreateAdd(first, b.CreateMul(j, e.c64(block)));
          Value *end = b.CreateAdd(lo, e.c64(block));
          Value *hi = b.CreateSelect(b.CreateICmpULT(end, last), end, last);
          e.forRange(e.c64(0), rowGroups, [&](Value *g) {
            columns(lo, hi, b.CreateMul(g, e.c64(tiles.batchRows)), tiles.batchRows, C, true);
          });
          e.forRange(b.CreateMul(rowGroups, e.c64(tiles.batchRows)), k.rows,
                     [&](Value *t) { columns(lo, hi, t, 1, C, true); });
        });
      },
      [&] { columns(first, last, e.c64(0), 1, tiles.singleColumns, false); });
}

// How far ahead decode loops prefetch (measured: MatmulTiles.h).
constexpr int64_t kPrefetchBytes = 1536;

void prefetchAhead(Kernel &k, Value *stream, Value *offset, int64_t stepBytes) {
  if (!k.target.prefetch)
    return;
  auto &b = k.builder;
  // A step longer than the distance (a sixteen-row K-quant record) asks
  // for the next step's lines, which the loop reads next.
  const int64_t ahead = std::max(kPrefetchBytes, stepBytes);
  Function *prefetch = Intrinsic::getDeclaration(b.GetInsertBlock()->getModule(),
                                                 Intrinsic::prefetch, {b.getPtrTy()});
  // prefetch(address, read, high locality, data cache); the address is not
  // an inbounds GEP, since the lines ahead of a weight's last step lie past it.
  for (int64_t line = 0; line < stepBytes; line += 64)
    b.CreateCall(prefetch, {b.CreateGEP(b.getInt8Ty(), stream,
                                        b.CreateAdd(offset, k.e.c64(ahead + line))),
                            b.getInt32(0), b.getInt32(3), b.getInt32(1)});
}

} // namespace kiln::codegen::cpu
