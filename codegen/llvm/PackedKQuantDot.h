// The fast-numerics dot products (--numerics fast): sixteen weight rows
// repacked at load (runtime::WeightLayout::Q4_Kx16, Q6_Kx16, Q8_0x16)
// dotted with q8_K (q8_0) activation rows. Each block's integers are summed whole,
// exactly, and the block adds them to one float per output: for q4_K
//   S = sum_s scale_s (q_s . a_s),  M = sum_s min_s bsum_s,
//   acc += d_w d_a S - dmin_w d_a M  (two fused multiply-adds).
// llama.cpp's AVX2 kernels (the exact mode) keep eight float lanes per
// output and round each of them per block, so the results differ in the
// last bits; the integers are the same.
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

// The same for q6_K (runtime::WeightLayout::Q6_Kx16): per block
//   S = sum_s scale_s (q_s . a_s) with q the unsigned six-bit quants,
//   M = sum_s scale_s bsum_s over the sixteen sub-blocks of 16,
// and acc += d_w d_a (S - 32 M), q - 32 being the signed quant.
void emitQ6KSixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 llvm::Value *record, llvm::Value *blockIndex,
                                 llvm::ArrayRef<QuantizedRow> rows,
                                 llvm::ArrayRef<llvm::Value *> acc);

// The same for q8_0 (runtime::WeightLayout::Q8_0x16): per block of 32
// S = q . a, and acc += d_w d_a S (llama.cpp's AVX2 kernel keeps eight
// float lanes per output here too).
void emitQ80SixteenPackedColumns(LoopEmitter &e, const IntegerDotTarget &target,
                                 llvm::Value *record, llvm::Value *blockIndex,
                                 llvm::ArrayRef<QuantizedRow> rows,
                                 llvm::ArrayRef<llvm::Value *> acc);

} // namespace kiln::codegen::lowering
