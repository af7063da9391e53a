// The fast-numerics q4_K dot product (--numerics fast): sixteen weight rows
// repacked at load (runtime::WeightLayout::Q4_Kx16) dotted with q8_K
// activation rows. Each block's integers are summed whole, exactly:
//   S = sum_s scale_s (q_s . a_s),  M = sum_s min_s bsum_s,
// and the block adds d_w d_a S - dmin_w d_a M to one float per output in
// two fused multiply-adds. llama.cpp's AVX2 kernel (the exact mode) keeps
// eight float lanes per output and rounds each of them per block, so the
// results differ in the last bits; the integers are the same.
#pragma once

#include "codegen/llvm/IntegerDot.h"

namespace kiln::codegen::lowering {

// acc[r] (16 floats, lane c = output column c of the group) += block
// `blockIndex` of the group's sixteen rows (the q4_Kx16 record at
// `record`) . rows[r]'s block. The byte dots go through target.hooks'
// quadDots where it has them (512-bit vpdpbusd: one instruction per four
// elements of sixteen columns), else through its pair sums.
void emitQ4KSixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 llvm::Value *record, llvm::Value *blockIndex,
                                 llvm::ArrayRef<QuantizedRow> rows,
                                 llvm::ArrayRef<llvm::Value *> acc);

} // namespace kiln::codegen::lowering
