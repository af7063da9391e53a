// What every CPU kernel emitter shares: the function being emitted, with
// the runtime's KernelFn signature, its arguments and the kernel
// description; and the emitters of each kernel family (one file each),
// with the few helpers one family borrows from another.
#pragma once

#include "codegen/KernelDesc.h"
#include "codegen/cpu/CpuKernelEmitter.h"
#include "codegen/llvm/LoopEmitter.h"

#include <functional>
#include <string>

namespace kiln::codegen::cpu {

// The body of one kernel: arguments of the KernelFn signature and helpers.
struct Kernel {
  Kernel(llvm::Module &module, const KernelDesc &desc, const std::string &symbol,
         const EmitTarget &target)
      : builder(module.getContext()), e(builder), d(desc), target(target) {
    llvm::LLVMContext &ctx = module.getContext();
    auto *ptr = llvm::PointerType::get(ctx, 0);
    auto *i64 = llvm::Type::getInt64Ty(ctx);
    auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx),
                                         {ptr, i64, i64, i64, i64}, false);
    fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, symbol, module);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->addFnAttr("no-trapping-math", "true");
    args = fn->getArg(0);
    rows = fn->getArg(1);
    position = fn->getArg(2);
    begin = fn->getArg(3);
    end = fn->getArg(4);
    builder.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", fn));
    // Sums may be reassociated (vectorized); NaNs and infinities keep their
    // meaning.
    llvm::FastMathFlags flags;
    flags.setAllowReassoc();
    flags.setAllowContract();
    builder.setFastMathFlags(flags);
  }

  llvm::Value *arg(int index) {
    auto *ptr = llvm::PointerType::get(builder.getContext(), 0);
    llvm::Value *slot = builder.CreateInBoundsGEP(ptr, args, e.c64(index));
    return builder.CreateLoad(ptr, slot);
  }
  llvm::Value *rowPtr(llvm::Value *base, llvm::Value *row, int64_t cols) {
    return e.at(e.f32(), base, builder.CreateMul(row, e.c64(cols)));
  }
  void finish() { builder.CreateRetVoid(); }

  // sum_k a[k] * b[k]
  llvm::Value *dot(llvm::Value *a, llvm::Value *b, int64_t count) {
    return e.reduce(0, count, e.cf(0.0f), [&](llvm::Value *k, llvm::Value *acc) {
      return builder.CreateFAdd(
          acc, builder.CreateFMul(e.loadF32(a, k), e.loadF32(b, k)));
    });
  }

  llvm::IRBuilder<> builder;
  lowering::LoopEmitter e;
  const KernelDesc &d;
  const EmitTarget &target;
  llvm::Function *fn;
  llvm::Value *args, *rows, *position, *begin, *end;
};

// Rows in and out, element by element (ElementwiseEmitter.cpp).
void emitEmbedding(Kernel &k);
void emitPositions(Kernel &k);
void emitBinary(Kernel &k, bool add);
void emitUnary(Kernel &k); // SiLU, GELU, softmax
void emitSliceColumns(Kernel &k);
void emitLastRow(Kernel &k);
// ggml's SiLU of element c of a row of n, and its GELU; the matmul
// epilogues use them too.
llvm::Value *emitSiluValue(Kernel &k, llvm::Value *v, llvm::Value *c, int64_t n);
llvm::Value *emitGeluValue(Kernel &k, llvm::Value *v);

// Norms (NormEmitter.cpp).
void emitRmsNorm(Kernel &k);
void emitLayerNorm(Kernel &k);

// Activations in the form the matmuls read (ActivationEmitter.cpp).
void emitRoundActivations(Kernel &k);
void emitQuantizeActivations(Kernel &k);
// A norm fused into the matmuls after it writes row t as they read it:
// rounded or quantized from the normalized row in `scratch`.
void convertNormRow(Kernel &k, llvm::Value *scratch, llvm::Value *out, llvm::Value *t);

// Matmuls and their epilogues (MatmulEmitter.cpp).
void emitMatmulKernel(Kernel &k);

// Rope, KV store, attention (AttentionEmitter.cpp); flash attention
// (FlashAttentionEmitter.cpp).
void emitRope(Kernel &k);
void emitKvStore(Kernel &k);
void emitAttention(Kernel &k);
void emitFlashAttention(Kernel &k);
// A query element rounded to f16 and back when the KV cache holds f16 (as
// llama.cpp converts that operand); unchanged otherwise.
llvm::Value *roundToHalf(Kernel &k, llvm::Value *value);
// llama.cpp's rope angles at position p, body(i, cos, sin) per pair i, and
// the rotation of one pair; the matmul's fused rope uses them too.
void forEachRopeAngle(
    Kernel &k, llvm::Value *p,
    const std::function<void(llvm::Value *i, llvm::Value *cos, llvm::Value *sin)> &body);
void emitRopeRotation(Kernel &k, llvm::Value *in, llvm::Value *res, llvm::Value *a,
                      llvm::Value *c, llvm::Value *cos, llvm::Value *sin);

} // namespace kiln::codegen::cpu
