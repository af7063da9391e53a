// Small helpers over llvm::IRBuilder for the loops kernels are made of:
// counted loops, loops carrying an accumulator, and typed loads and stores.
#pragma once

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

#include <functional>

namespace kiln::codegen::lowering {

class LoopEmitter {
public:
  LoopEmitter(llvm::IRBuilder<> &builder) : b(builder) {}

  llvm::IRBuilder<> &b;

  llvm::Type *f32() { return b.getFloatTy(); }
  llvm::Type *i64() { return b.getInt64Ty(); }
  llvm::Type *i32() { return b.getInt32Ty(); }
  llvm::Value *c64(int64_t v) { return b.getInt64(v); }
  llvm::Value *c32(int32_t v) { return b.getInt32(v); }
  llvm::Value *cf(float v) { return llvm::ConstantFP::get(f32(), v); }

  // for (i = lo; i < hi; ++i) body(i)
  void forRange(llvm::Value *lo, llvm::Value *hi,
                const std::function<void(llvm::Value *)> &body);
  void forRange(int64_t lo, int64_t hi,
                const std::function<void(llvm::Value *)> &body) {
    forRange(c64(lo), c64(hi), body);
  }
  // The same loop, marked so that the optimizer keeps it rolled: only one
  // iteration's values are live at a time, where unrolled straight-line
  // code would let the scheduler hoist every iteration's loads and spill.
  void forRangeRolled(int64_t lo, int64_t hi,
                      const std::function<void(llvm::Value *)> &body);

  // acc = init; for (i = lo; i < hi; ++i) acc = step(i, acc); returns acc.
  llvm::Value *reduce(llvm::Value *lo, llvm::Value *hi, llvm::Value *init,
                      const std::function<llvm::Value *(llvm::Value *,
                                                        llvm::Value *)> &step,
                      bool rolled = false);
  llvm::Value *reduce(int64_t lo, int64_t hi, llvm::Value *init,
                      const std::function<llvm::Value *(llvm::Value *,
                                                        llvm::Value *)> &step) {
    return reduce(c64(lo), c64(hi), init, step);
  }

  // Element `index` of an array of `type` at `base`.
  llvm::Value *at(llvm::Type *type, llvm::Value *base, llvm::Value *index) {
    return b.CreateInBoundsGEP(type, base, index);
  }
  llvm::Value *loadF32(llvm::Value *base, llvm::Value *index) {
    return b.CreateLoad(f32(), at(f32(), base, index));
  }
  void storeF32(llvm::Value *value, llvm::Value *base, llvm::Value *index) {
    b.CreateStore(value, at(f32(), base, index));
  }
  // Byte `offset` of `base`, zero-extended to i32.
  llvm::Value *loadByte(llvm::Value *base, llvm::Value *offset) {
    return b.CreateZExt(b.CreateLoad(b.getInt8Ty(), at(b.getInt8Ty(), base, offset)),
                        i32());
  }
  llvm::Value *loadSignedByte(llvm::Value *base, llvm::Value *offset) {
    return b.CreateSExt(b.CreateLoad(b.getInt8Ty(), at(b.getInt8Ty(), base, offset)),
                        i32());
  }
  // An IEEE half at byte `offset`, as float.
  llvm::Value *loadHalf(llvm::Value *base, llvm::Value *offset) {
    llvm::Value *ptr = at(b.getInt8Ty(), base, offset);
    return b.CreateFPExt(b.CreateAlignedLoad(b.getHalfTy(), ptr, llvm::Align(1)),
                         f32());
  }
  llvm::Value *loadU32(llvm::Value *base, llvm::Value *offset) {
    llvm::Value *ptr = at(b.getInt8Ty(), base, offset);
    return b.CreateAlignedLoad(i32(), ptr, llvm::Align(1));
  }
  llvm::Value *toFloat(llvm::Value *integer) {
    return b.CreateSIToFP(integer, f32());
  }
  // A float scratch array in the function's entry block.
  llvm::Value *scratch(int64_t count);
  // A stack slot of `type` in the entry block (promoted to registers).
  llvm::Value *local(llvm::Type *type);

  // if (condition) onTrue() else onFalse()
  void ifElse(llvm::Value *condition, const std::function<void()> &onTrue,
              const std::function<void()> &onFalse);

  // A call to a libm function float(float), e.g. "expf".
  llvm::Value *callMath(const char *name, llvm::Value *x);
};

} // namespace kiln::codegen::lowering
