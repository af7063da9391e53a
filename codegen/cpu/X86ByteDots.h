// The byte instructions of x86's AVX2 for the integer dot products of
// codegen/llvm/IntegerDot.h: vpmaddubsw and vpmaddwd for the pair sums,
// vpsignb for signed weights, vphaddd for the column totals, as llama.cpp's
// AVX2 kernels use them. With VNNI, vpdpbusd sums four byte products into
// 32 bits at once: the same integers (no pair sum of these kernels
// saturates 16 bits), in one instruction instead of two.
#pragma once

#include "codegen/llvm/IntegerDot.h"

namespace kiln::codegen::cpu {

class X86ByteDots final : public lowering::ByteDotHooks {
public:
  // vnni: the CPU has vpdpbusd on 256-bit vectors (AVX512-VNNI with VL, or
  // AVX-VNNI; LLVM selects either from the same intrinsic); wideVnni: also
  // on 512-bit vectors (AVX512-VNNI); wide: the byte dots on 512-bit
  // vectors (AVX512-BW; vpsignb has no such form, a masked negation
  // replaces it).
  X86ByteDots(bool vnni, bool wideVnni, bool wide)
      : vnni_(vnni), wideVnni_(wideVnni), wide_(wide) {}

  llvm::Value *dotUnsigned(llvm::IRBuilder<> &b, llvm::Value *u, llvm::Value *a,
                           llvm::Value *scale16) const override;
  // |w| . (a with w's sign).
  llvm::Value *dotSigned(llvm::IRBuilder<> &b, llvm::Value *w, llvm::Value *a,
                         llvm::Value *scale16) const override;
  llvm::Value *pairSums(llvm::IRBuilder<> &b, llvm::Value *u, llvm::Value *a) const override;
  llvm::Value *widenPairs(llvm::IRBuilder<> &b, llvm::Value *x) const override;
  llvm::Value *columnTotals(llvm::IRBuilder<> &b,
                            llvm::ArrayRef<llvm::Value *> sums) const override;
  bool hasWideDots() const override { return wide_; }
  bool hasQuadDots() const override { return vnni_; }
  bool hasWideQuadDots() const override { return wideVnni_; }
  llvm::Value *quadDots(llvm::IRBuilder<> &b, llvm::Value *acc, llvm::Value *u,
                        llvm::Value *a) const override;

private:
  bool vnni_, wideVnni_, wide_;
};

} // namespace kiln::codegen::cpu
