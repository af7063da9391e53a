// Emits integer dot products of quantized weight blocks with activation
// rows quantized to q8 blocks (QuantizedActivations.h): the weight block's
// quants are unpacked to bytes once, multiplied with each row's bytes into
// exact 32-bit sums (per sub-block scale applied as an integer), and each
// block then adds d_w * d_a * sum to eight float lanes, as llama.cpp's
// AVX2 dot products do. Formats with a minimum add their min terms to a
// scalar.
#pragma once

#include "LoopEmitter.h"
#include "quant/GgmlType.h"

#include "llvm/ADT/ArrayRef.h"

namespace kiln::codegen::cpu {

struct IntegerDotTarget {
  // Use AVX2's byte instructions (vpmaddubsw, vpmaddwd, vpsignb); without
  // them, generic vector IR computes the same integers.
  bool avx2 = false;
};

// The arrays of one quantized activation row.
struct QuantizedRow {
  llvm::Value *q;     // int8 values
  llvm::Value *d;     // float scale per block
  llvm::Value *extra; // q8_0: float s per block; q8_K: int32 sums per 16
};

// Per-row accumulators (stack slots): eight float lanes summed at the end,
// and a scalar for the min terms.
struct DotAccumulators {
  llvm::Value *lanes;
  llvm::Value *offset;
};

inline constexpr unsigned kDotLanes = 8;

bool hasIntegerDot(GgmlType weights);

// Elements of one weight block: 32 or 256.
int64_t integerDotBlockElements(GgmlType weights);

// acc[r] += weight block `blockIndex` (stored at `block`) . rows[r]'s block.
void emitBlockIntegerDot(LoopEmitter &e, const IntegerDotTarget &target,
                         GgmlType weights, llvm::Value *block,
                         llvm::Value *blockIndex,
                         llvm::ArrayRef<QuantizedRow> rows,
                         llvm::ArrayRef<DotAccumulators> acc);

} // namespace kiln::codegen::cpu
