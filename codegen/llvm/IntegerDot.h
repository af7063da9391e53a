// Emits integer dot products of quantized weight blocks with activation
// rows quantized to q8 blocks (QuantizedActivations.h): the weight block's
// quants are unpacked to bytes once, multiplied with each row's bytes into
// exact 32-bit sums (per sub-block scale applied as an integer), and each
// block then adds d_w * d_a * sum to eight float lanes, as llama.cpp's
// AVX2 dot products do. Formats with a minimum add their min terms to a
// scalar. The integers are the same on every target; only the byte
// instructions that compute them may differ (ByteDotHooks).
#pragma once

#include "codegen/llvm/LoopEmitter.h"
#include "quant/GgmlType.h"

#include "llvm/ADT/ArrayRef.h"

namespace kiln::codegen::lowering {

// Byte instructions a target has for the three steps below; without hooks,
// generic vector IR computes the same integers. The CPU target's are
// AVX2's (codegen/cpu/X86ByteDots.h).
class ByteDotHooks {
public:
  virtual ~ByteDotHooks() = default;
  // 32 unsigned bytes u (< 128) times 32 signed bytes a: lane i of eight
  // i32 = pair (4i, 4i+1) times scale16[2i] + pair (4i+2, 4i+3) times
  // scale16[2i+1], scale16 being 16 i16.
  virtual llvm::Value *dotUnsigned(llvm::IRBuilder<> &b, llvm::Value *u, llvm::Value *a,
                                   llvm::Value *scale16) const = 0;
  // The same with signed bytes w.
  virtual llvm::Value *dotSigned(llvm::IRBuilder<> &b, llvm::Value *w, llvm::Value *a,
                                 llvm::Value *scale16) const = 0;
  // 32 unsigned bytes u (< 128) times 32 signed bytes a: lane i of 16 i16
  // = u[2i] a[2i] + u[2i+1] a[2i+1] (callers keep every sum below 2^15).
  virtual llvm::Value *pairSums(llvm::IRBuilder<> &b, llvm::Value *u,
                                llvm::Value *a) const = 0;
  // 16 i16 -> 8 i32, lane i = x[2i] + x[2i+1].
  virtual llvm::Value *widenPairs(llvm::IRBuilder<> &b, llvm::Value *x) const = 0;
  // Eight vectors of eight i32 partial sums -> one vector of their eight
  // totals (lane c = sum of sums[c]).
  virtual llvm::Value *columnTotals(llvm::IRBuilder<> &b,
                                    llvm::ArrayRef<llvm::Value *> sums) const = 0;
  // Whether dotUnsigned and dotSigned also take 64 bytes (16 i32 lanes;
  // x86's AVX512-BW).
  virtual bool hasWideDots() const = 0;
  // Whether quadDots exists: one instruction for four byte products summed
  // into 32 bits (x86's vpdpbusd).
  virtual bool hasQuadDots() const = 0;
  // Whether quadDots also takes 64 bytes (16 i32 lanes; AVX512-VNNI).
  virtual bool hasWideQuadDots() const = 0;
  // acc (8 or 16 i32) + lane i = u[4i..4i+3] . a[4i..4i+3], u unsigned, a
  // signed.
  virtual llvm::Value *quadDots(llvm::IRBuilder<> &b, llvm::Value *acc, llvm::Value *u,
                                llvm::Value *a) const = 0;
};

struct IntegerDotTarget {
  const ByteDotHooks *hooks = nullptr; // null: generic vector IR
};

// The arrays of one quantized activation row.
struct QuantizedRow {
  llvm::Value *q;     // int8 values
  llvm::Value *d;     // float scale per block
  llvm::Value *extra; // q8_0: float s per block; q8_K: int32 sums per 16
};

// Per-row accumulators (stack slots): eight float lanes and four float
// lanes for the min terms (four as llama.cpp's K-quant kernels keep them;
// q4_1/q5_1 and serial blocks use the first), summed at the end.
struct DotAccumulators {
  llvm::Value *lanes;
  llvm::Value *offset;
};

// lanes summed interleaved + ((offset0 + offset2) + (offset1 + offset3)).
llvm::Value *emitDotResult(LoopEmitter &e, const DotAccumulators &acc);

inline constexpr unsigned kDotLanes = 8;

bool hasIntegerDot(GgmlType weights);

// Elements of one weight block: 32 or 256.
int64_t integerDotBlockElements(GgmlType weights);

// q4_0 as llama.cpp computes it on x86 once it has repacked the weights in
// groups of eight rows (its CPU back end does so when the row count is a
// multiple of 8): per output, each block added as one float,
// sum = fma(float(block sum), d_w * d_a, sum). Eight weight rows at once,
// lane c of acc[r] (8 floats) being column c of row r.
void emitQ40EightColumns(LoopEmitter &e, const IntegerDotTarget &target,
                         llvm::ArrayRef<llvm::Value *> blocks, llvm::Value *blockIndex,
                         llvm::ArrayRef<QuantizedRow> rows,
                         llvm::ArrayRef<llvm::Value *> acc);
// The same over one 144-byte record of weights repacked in groups of eight
// rows (runtime::WeightLayout::Q4_0x8): eight f16 scales, then four chunks
// of four nibble bytes of each row. Each chunk's low (high) nibbles are
// four elements of the eight rows, so a byte dot with the activations'
// four elements broadcast leaves row c's products in lane c: eight such
// steps summed in 16 bits (|sum| < 8 * 2 * 15 * 128 < 2^15) and widened
// once give the block sums with no horizontal adds. The integers, and so
// the sums, are the same bit for bit.
void emitQ40EightPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                               llvm::Value *record, llvm::Value *blockIndex,
                               llvm::ArrayRef<QuantizedRow> rows,
                               llvm::ArrayRef<llvm::Value *> acc);

// The same over two groups of eight rows at once, in 16 lanes: records[0]
// and records[1] hold block `blockIndex` of columns 0-7 and 8-15, and lane
// c of acc[r] (16 floats) is column c. Each lane computes what it would
// in emitQ40EightPackedColumns, so the results are the same bit for bit.
// Needs target.hooks->hasWideQuadDots().
void emitQ40SixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 llvm::ArrayRef<llvm::Value *> records,
                                 llvm::Value *blockIndex, llvm::ArrayRef<QuantizedRow> rows,
                                 llvm::ArrayRef<llvm::Value *> acc);

// Two columns' accumulators for one row (stack slots), column 0 in the low
// half of each: 16 float lanes and 8 for the min terms (DotAccumulators'
// eight and four per column).
struct PairAccumulators {
  llvm::Value *lanes;
  llvm::Value *offset;
};

// Whether emitPairIntegerDot takes `weights`: blocks of 32 signed quants
// with no min (q8_0, q5_0, q4_0), q4_K, q5_K, q6_K.
bool hasPairIntegerDot(GgmlType weights);

// Two columns' weight blocks `blockIndex` (stored at blocks[0], blocks[1])
// at once in 512-bit vectors: the byte dots of both in the halves of each
// instruction, the float part of both in the halves of each vector. Each
// half gets what emitBlockIntegerDot adds for its column alone: the same
// integers and the same float operations. Needs target.hooks->hasWideDots().
void emitPairIntegerDot(LoopEmitter &e, const IntegerDotTarget &target, GgmlType weights,
                        llvm::ArrayRef<llvm::Value *> blocks, llvm::Value *blockIndex,
                        llvm::ArrayRef<QuantizedRow> rows,
                        llvm::ArrayRef<PairAccumulators> acc);

// Column `column` (0 or 1) of acc summed as emitDotResult sums one
// column's accumulators.
llvm::Value *emitPairDotResult(LoopEmitter &e, const PairAccumulators &acc, int column);

// acc[r] += weight block `blockIndex` (stored at `block`) . rows[r]'s block.
void emitBlockIntegerDot(LoopEmitter &e, const IntegerDotTarget &target,
                         GgmlType weights, llvm::Value *block,
                         llvm::Value *blockIndex,
                         llvm::ArrayRef<QuantizedRow> rows,
                         llvm::ArrayRef<DotAccumulators> acc);

} // namespace kiln::codegen::lowering
