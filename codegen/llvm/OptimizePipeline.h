// LLVM's O3 module pipeline for a target machine, shared by the LLVM
// targets (the CPU JIT and AOT objects, the CUDA target's PTX).
#pragma once

#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Target/TargetMachine.h"

namespace kiln::codegen::lowering {

// Runs O3 over `module` for `machine` with `tuning` (which vectorizers).
void optimizeO3(llvm::Module &module, llvm::TargetMachine &machine,
                const llvm::PipelineTuningOptions &tuning = {});

} // namespace kiln::codegen::lowering
