// The byte instructions of x86's AVX2 for the integer dot products of
// codegen/llvm/IntegerDot.h: vpmaddubsw and vpmaddwd for the pair sums,
// vpsignb for signed weights, vphaddd for the column totals, as llama.cpp's
// AVX2 kernels use them.
#pragma once

#include "codegen/llvm/IntegerDot.h"

namespace kiln::codegen::cpu {

class X86ByteDots final : public lowering::ByteDotHooks {
public:
  llvm::Value *dotUnsigned(llvm::IRBuilder<> &b, llvm::Value *u, llvm::Value *a,
                           llvm::Value *scale16) const override;
  // |w| . (a with w's sign).
  llvm::Value *dotSigned(llvm::IRBuilder<> &b, llvm::Value *w, llvm::Value *a,
                         llvm::Value *scale16) const override;
  llvm::Value *pairSums(llvm::IRBuilder<> &b, llvm::Value *u, llvm::Value *a) const override;
  llvm::Value *widenPairs(llvm::IRBuilder<> &b, llvm::Value *x) const override;
  llvm::Value *columnTotals(llvm::IRBuilder<> &b,
                            llvm::ArrayRef<llvm::Value *> sums) const override;
};

} // namespace kiln::codegen::cpu
