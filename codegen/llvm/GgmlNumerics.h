// Float arithmetic as llama.cpp's CPU back end (ggml, AVX2 build) does it,
// where its choices change results: the polynomial exp of its softmax and
// SiLU, and the order in which its dot products add (eight lanes, each
// summing every eighth product with FMA, then a fixed tree). Kernels that
// follow these orders land on llama.cpp's numbers instead of a last-bit
// neighbour, which matters because activations are later rounded to f16 or
// q8 and a last-bit difference can become a whole rounding step.
// These are facts about an algorithm, written from its description.
#pragma once

#include "llvm/IR/IRBuilder.h"

namespace kiln::codegen::lowering {

// ggml's exp for AVX2 (from Arm's optimized routines): a degree-5
// polynomial after range reduction by ln 2, with explicit handling of
// large |x|; within ~1.5 ulp of exp. `x` is a float or a float vector.
llvm::Value *emitGgmlExp(llvm::IRBuilder<> &b, llvm::Value *x);

// How eight float lanes are added into one.
enum class LaneTree {
  // ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)): llamafile's sgemm (prefill
  // matmuls) and the softmax sums.
  Interleaved,
  // ((l0+l4) + (l1+l5)) + ((l2+l6) + (l3+l7)): ggml_vec_dot_f32/f16 (one
  // token), two horizontal adds.
  Adjacent,
};
llvm::Value *emitLaneSum(llvm::IRBuilder<> &b, llvm::Value *lanes8, LaneTree tree);

// fma(a, b, c), exactly rounded once.
llvm::Value *emitFma(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *y,
                     llvm::Value *z);

} // namespace kiln::codegen::lowering
