// The integer-dot matmul schedules: weights in GGUF blocks (or repacked,
// q4_0x8 and rows4) dotted with q8-quantized input rows, as llama.cpp's x86
// dot products sum them; with AVX-512, two or more columns per vector.

#include "codegen/cpu/MatmulTiles.h"

#include "codegen/QuantizedActivations.h"
#include "codegen/cpu/X86ByteDots.h"
#include "codegen/llvm/IntegerDot.h"
#include "codegen/llvm/PackedKQuantDot.h"
#include "codegen/llvm/WeightDecode.h"

using namespace llvm;

namespace kiln::codegen::cpu {

using namespace lowering;

namespace {

// q4_0 with a row count that is a multiple of 8: eight columns at a time
// in llama.cpp's order for repacked q4_0 (emitQ40EightColumns), 4 input
// rows at a time in prefill; the weights repacked at load (q4_0x8) when
// the target asked for it, as the CPU target does.
void emitQ40Matmul(Kernel &k, const MatmulSlice &slice, const IntegerDotTarget &target) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  Value *x = slice.x, *w = slice.w;
  QuantizedRowLayout layout = quantizedRowLayout(k.d.matmul.activations, K);
  int64_t stride = rowBytes(GgmlType::Q4_0, K);
  auto *lanes = FixedVectorType::get(e.f32(), 8);
  Value *accumulators[4];
  for (Value *&acc : accumulators)
    acc = e.local(lanes);
  // Repacked (runtime::WeightLayout::Q4_0x8): group n0/8's blocks are one
  // array of 144-byte records, eight scales then eight nibble arrays.
  const bool packed = slice.layout == runtime::WeightLayout::Q4_0x8;
  const int64_t blocksPerRow = K / 32;
  // With 512-bit VNNI, many tokens take two groups (16 columns) at a time.
  const bool sixteen = packed && target.hooks && target.hooks->hasWideQuadDots();
  Value *wideAccumulators[4];
  if (sixteen)
    for (Value *&acc : wideAccumulators)
      acc = e.local(FixedVectorType::get(e.f32(), 16));
  auto groupRecords = [&](Value *n0) {
    return e.at(b.getInt8Ty(), w,
                b.CreateMul(b.CreateUDiv(n0, e.c64(8)), e.c64(blocksPerRow * 144)));
  };
  MicroTiles tiles = sixteen ? MicroTiles{4, 16, 8, 8} : MicroTiles{4, 8, 8};
  forEachMicroTile(k, slice, tiles, [&](Value *t0, int64_t R, Value *n0, int64_t C,
                                        bool batched) {
    // Tiles start at multiples of 16 and N is a multiple of 8, so every
    // task's columns split into groups of 16 and 8: the single-column loop
    // that forEachMicroTile emits for leftovers never runs.
    if (C != 8 && C != 16)
      return;
    Value **acc = C == 16 ? wideAccumulators : accumulators;
    auto *sumType = FixedVectorType::get(e.f32(), C);
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)), nullptr});
      b.CreateStore(ConstantAggregateZero::get(sumType), acc[r]);
    }
    Value *groups[2] = {packed ? groupRecords(n0) : nullptr,
                        C == 16 ? groupRecords(b.CreateAdd(n0, e.c64(8))) : nullptr};
    e.forRange(0, blocksPerRow, [&](Value *blockIndex) {
      Value *recordOffset = b.CreateMul(blockIndex, e.c64(144));
      if (C == 16) {
        Value *records[2] = {e.at(b.getInt8Ty(), groups[0], recordOffset),
                             e.at(b.getInt8Ty(), groups[1], recordOffset)};
        emitQ40SixteenPackedColumns(e, target, records, blockIndex, rows,
                                    ArrayRef<Value *>(acc, R));
        return;
      }
      if (packed) {
        if (!batched)
          prefetchAhead(k, groups[0], recordOffset, 144);
        Value *record = e.at(b.getInt8Ty(), groups[0], recordOffset);
        emitQ40EightPackedColumns(e, target, record, blockIndex, rows,
                                  ArrayRef<Value *>(acc, R));
        return;
      }
      Value *blocks[8];
      for (int64_t c = 0; c < 8; ++c)
        blocks[c] = e.at(b.getInt8Ty(), w,
                         b.CreateAdd(b.CreateMul(b.CreateAdd(n0, e.c64(c)), e.c64(stride)),
                                     b.CreateMul(blockIndex, e.c64(18))));
      emitQ40EightColumns(e, target, blocks, blockIndex, rows, ArrayRef<Value *>(acc, R));
    });
    for (int64_t r = 0; r < R; ++r) {
      Value *sums = b.CreateLoad(sumType, acc[r]);
      for (int64_t c = 0; c < C; ++c)
        slice.store(b.CreateExtractElement(sums, uint64_t(c)), b.CreateAdd(t0, e.c64(r)),
                    b.CreateAdd(n0, e.c64(c)));
    }
  });
}

// q4_K, q6_K or q8_0 repacked in groups of sixteen rows (q4_Kx16,
// q6_Kx16, q8_0x16; --numerics fast): sixteen columns per vector, each
// block's integers summed whole (PackedKQuantDot.h); many tokens 4 rows at
// a time where 512-bit byte dots keep the sums in 32 registers, else 2.
void emitSixteenColumnMatmul(Kernel &k, const MatmulSlice &slice,
                             const IntegerDotTarget &target) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  using runtime::WeightLayout;
  const WeightLayout packed = slice.layout;
  const int64_t recordBytes = packed == WeightLayout::Q6_Kx16   ? runtime::kQ6KX16RecordBytes
                              : packed == WeightLayout::Q4_Kx16 ? runtime::kQ4KX16RecordBytes
                                                                : runtime::kQ8_0X16RecordBytes;
  const int64_t blocksPerRow = k.d.cols / (packed == WeightLayout::Q8_0x16 ? 32 : 256);
  QuantizedRowLayout layout = quantizedRowLayout(k.d.matmul.activations, k.d.cols);
  auto *sumType = FixedVectorType::get(e.f32(), 16);
  Value *accumulators[4];
  for (Value *&acc : accumulators)
    acc = e.local(sumType);
  const int64_t rowsPerTile = target.hooks && target.hooks->hasWideQuadDots() ? 4 : 2;
  MicroTiles tiles{rowsPerTile, 16, 16, 16};
  forEachMicroTile(k, slice, tiles, [&](Value *t0, int64_t R, Value *n0, int64_t C,
                                        bool batched) {
    // Tiles start at multiples of 16 and N is a multiple of 16 (the
    // layout's condition), so no other column count is ever called for.
    if (C != 16)
      return;
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), slice.x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)),
                      e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset))});
      b.CreateStore(ConstantAggregateZero::get(sumType), accumulators[r]);
    }
    Value *group = e.at(b.getInt8Ty(), slice.w,
                        b.CreateMul(b.CreateUDiv(n0, e.c64(16)),
                                    e.c64(blocksPerRow * recordBytes)));
    e.forRange(0, blocksPerRow, [&](Value *blockIndex) {
      Value *offset = b.CreateMul(blockIndex, e.c64(recordBytes));
      if (!batched)
        prefetchAhead(k, group, offset, recordBytes);
      Value *record = e.at(b.getInt8Ty(), group, offset);
      ArrayRef<Value *> acc(accumulators, R);
      if (packed == WeightLayout::Q6_Kx16)
        emitQ6KSixteenPackedColumns(e, target, record, blockIndex, rows, acc);
      else if (packed == WeightLayout::Q4_Kx16)
        emitQ4KSixteenPackedColumns(e, target, record, blockIndex, rows, acc);
      else
        emitQ80SixteenPackedColumns(e, target, record, blockIndex, rows, acc);
    });
    for (int64_t r = 0; r < R; ++r) {
      Value *sums = b.CreateLoad(sumType, accumulators[r]);
      for (int64_t c = 0; c < 16; ++c)
        slice.store(b.CreateExtractElement(sums, uint64_t(c)), b.CreateAdd(t0, e.c64(r)),
                    b.CreateAdd(n0, e.c64(c)));
    }
  });
}

} // namespace

// Matmul on quantized input rows (integer dot products, IntegerDot.h):
// each weight block is unpacked once for the R rows, each row's block
// loaded once for the C columns, and the R x C accumulator chains are
// independent. Many tokens: 4 rows x 1 column (4 x 2 spilled registers:
// q8_0 TinyLlama prefill 34 tok/s against 54); one token: 4 columns.
void emitIntegerMatmul(Kernel &k, const MatmulSlice &slice) {
  auto &b = k.builder;
  LoopEmitter &e = k.e;
  int64_t K = k.d.cols;
  GgmlType format = slice.format;
  Value *x = slice.x, *w = slice.w;
  QuantizedRowLayout layout = quantizedRowLayout(k.d.matmul.activations, K);
  int64_t stride = rowBytes(format, K);
  int64_t blockElements = integerDotBlockElements(format);
  int64_t blockBytes = rowBytes(format, blockElements);
  X86ByteDots avx2(k.target.vnni, k.target.wideVnni, k.target.avx512bw);
  IntegerDotTarget target{k.target.avx2 ? &avx2 : nullptr};
  if (format == GgmlType::Q4_0 && slice.N % 8 == 0) {
    emitQ40Matmul(k, slice, target);
    return;
  }
  if (slice.layout == runtime::WeightLayout::Q4_Kx16 ||
      slice.layout == runtime::WeightLayout::Q6_Kx16 ||
      slice.layout == runtime::WeightLayout::Q8_0x16) {
    emitSixteenColumnMatmul(k, slice, target);
    return;
  }
  const bool interleaved = slice.layout == runtime::WeightLayout::Rows4;
  const int64_t blockStep = interleaved ? 4 * blockBytes : blockBytes;
  auto *lanes = FixedVectorType::get(e.f32(), kDotLanes);
  std::vector<DotAccumulators> accumulators;
  for (int64_t i = 0; i < 8; ++i)
    accumulators.push_back({e.local(lanes), e.local(FixedVectorType::get(e.f32(), 4))});

  // With 512-bit byte dots, many tokens take two columns per vector
  // (emitPairIntegerDot), each half computing what its column's
  // accumulators compute alone: 4 rows x 4 columns for the 32-blocks, 4 x
  // 2 for the K-quants.
  const bool pairs =
      target.hooks && target.hooks->hasWideDots() && hasPairIntegerDot(format);
  std::vector<PairAccumulators> pairAccumulators;
  if (pairs)
    for (int64_t i = 0; i < 8; ++i)
      pairAccumulators.push_back({e.local(FixedVectorType::get(e.f32(), 16)),
                                  e.local(FixedVectorType::get(e.f32(), 8))});
  const bool kQuant = blockElements == 256;
  MicroTiles tiles = !pairs  ? MicroTiles{4, 1, 4}
                     : kQuant ? MicroTiles{4, 2, 4}
                              : MicroTiles{4, 4, 4, 2};
  forEachMicroTile(k, slice, tiles, [&](Value *t0, int64_t R, Value *n0, int64_t C,
                                        bool batched) {
    std::vector<QuantizedRow> rows;
    for (int64_t r = 0; r < R; ++r) {
      Value *row = e.at(b.getInt8Ty(), x,
                        b.CreateMul(b.CreateAdd(t0, e.c64(r)), e.c64(layout.rowBytes)));
      rows.push_back({row, e.at(b.getInt8Ty(), row, e.c64(layout.scalesOffset)),
                      e.at(b.getInt8Ty(), row, e.c64(layout.extraOffset))});
    }
    std::vector<Value *> weightRows;
    for (int64_t c = 0; c < C; ++c) {
      Value *n = b.CreateAdd(n0, e.c64(c));
      // Rows4: row n's blocks interleaved with those of its group of four.
      Value *start = interleaved
                         ? b.CreateAdd(b.CreateMul(b.CreateUDiv(n, e.c64(4)), e.c64(4 * stride)),
                                       b.CreateMul(b.CreateURem(n, e.c64(4)),
                                                   e.c64(blockBytes)))
                         : b.CreateMul(n, e.c64(stride));
      weightRows.push_back(e.at(b.getInt8Ty(), w, start));
    }
    if (pairs && batched && C % 2 == 0) {
      const int64_t P = C / 2;
      for (int64_t i = 0; i < P * R; ++i) {
        b.CreateStore(ConstantAggregateZero::get(FixedVectorType::get(e.f32(), 16)),
                      pairAccumulators[i].lanes);
        b.CreateStore(ConstantAggregateZero::get(FixedVectorType::get(e.f32(), 8)),
                      pairAccumulators[i].offset);
      }
      e.forRange(0, K / blockElements, [&](Value *blockIndex) {
        Value *offset = b.CreateMul(blockIndex, e.c64(blockStep));
        for (int64_t p = 0; p < P; ++p) {
          Value *blocks[2] = {e.at(b.getInt8Ty(), weightRows[2 * p], offset),
                              e.at(b.getInt8Ty(), weightRows[2 * p + 1], offset)};
          emitPairIntegerDot(e, target, format, blocks, blockIndex, rows,
                             ArrayRef<PairAccumulators>(pairAccumulators).slice(p * R, R));
        }
      });
      for (int64_t p = 0; p < P; ++p)
        for (int64_t r = 0; r < R; ++r)
          for (int h = 0; h < 2; ++h)
            slice.store(emitPairDotResult(e, pairAccumulators[p * R + r], h),
                        b.CreateAdd(t0, e.c64(r)), b.CreateAdd(n0, e.c64(2 * p + h)));
      return;
    }
    for (int64_t i = 0; i < R * C; ++i) {
      b.CreateStore(ConstantAggregateZero::get(lanes), accumulators[i].lanes);
      b.CreateStore(ConstantAggregateZero::get(FixedVectorType::get(e.f32(), 4)),
                    accumulators[i].offset);
    }
    e.forRange(0, K / blockElements, [&](Value *blockIndex) {
      Value *offset = b.CreateMul(blockIndex, e.c64(blockStep));
      if (interleaved && C == 4 && R == 1) // one token: the rows4 group is one stream
        prefetchAhead(k, weightRows[0], offset, blockStep);
      for (int64_t c = 0; c < C; ++c)
        emitBlockIntegerDot(e, target, format, e.at(b.getInt8Ty(), weightRows[c], offset),
                            blockIndex, rows,
                            ArrayRef<DotAccumulators>(accumulators).slice(c * R, R));
    });
    for (int64_t c = 0; c < C; ++c)
      for (int64_t r = 0; r < R; ++r) {
        Value *value = emitDotResult(e, accumulators[c * R + r]);
        slice.store(value, b.CreateAdd(t0, e.c64(r)), b.CreateAdd(n0, e.c64(c)));
      }
  });
}

} // namespace kiln::codegen::cpu
