// Emits LLVM IR for kernel descriptions: one function per kernel with the
// runtime's KernelFn signature, every shape and constant baked in.
#pragma once

#include "codegen/KernelDesc.h"
#include "support/Result.h"

#include "llvm/IR/Module.h"

#include <string>

namespace kiln::codegen::cpu {

// What the emitted code may assume of the CPU.
struct EmitTarget {
  bool avx2 = false;     // AVX2 byte instructions for integer dot products
  bool vnni = false;     // vpdpbusd on 256-bit vectors (AVX512-VNNI with VL, or AVX-VNNI)
  bool wideVnni = false; // ... and on 512-bit vectors (AVX512-VNNI)
  bool avx512 = false;   // 512-bit float vectors (AVX512-F)
  bool avx512bw = false; // 512-bit byte vectors (AVX512-BW)
  bool prefetch = false; // software prefetch of the weights in decode loops
};

Status emitKernel(llvm::Module &module, const KernelDesc &desc,
                  const std::string &symbol, const EmitTarget &target);

} // namespace kiln::codegen::cpu
