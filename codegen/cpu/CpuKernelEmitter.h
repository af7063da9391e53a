// Emits LLVM IR for kernel descriptions: one function per kernel with the
// runtime's KernelFn signature, every shape and constant baked in.
#pragma once

#include "KernelDesc.h"
#include "support/Result.h"

#include "llvm/IR/Module.h"

#include <string>

namespace kiln::codegen::cpu {

Status emitKernel(llvm::Module &module, const KernelDesc &desc,
                  const std::string &symbol);

} // namespace kiln::codegen::cpu
