// Lowers a kiln module (after the graph passes) to an execution plan: one
// kernel call per op (attention becomes a KV-cache store and the attention
// proper), identical kernels shared, and activation buffers reused once the
// value they hold is dead.
#pragma once

#include "KernelDesc.h"
#include "runtime/ExecutionPlan.h"
#include "support/Result.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace kiln::codegen {

struct LowerOptions {
  bool kvCacheF16 = true; // else f32
  // Round the input of matmuls against f16 weights to f16 first, as
  // llama.cpp's CPU path does (its f16 dot products take f16 operands).
  bool halfInputsForHalfWeights = true;
};

struct LoweredModel {
  runtime::ExecutionPlan plan;
  std::vector<KernelDesc> kernels; // kernels[i] is plan.kernelSymbols[i]
};

Result<LoweredModel> lowerToPlan(mlir::ModuleOp module,
                                 const LowerOptions &options = {});

} // namespace kiln::codegen
