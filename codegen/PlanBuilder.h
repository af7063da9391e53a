// Lowers a kiln module (after the graph passes) to an execution plan: one
// kernel call per op (attention becomes a KV-cache store and the attention
// proper), identical kernels shared, one activation buffer per value (the
// runtime's memory planner lays them out in one arena, reusing memory).
#pragma once

#include "codegen/LoweredModel.h"
#include "codegen/Target.h"
#include "support/Result.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace kiln::codegen {

// `target` says what form each matmul's input takes (Target::matmulInput).
Result<LoweredModel> lowerToPlan(mlir::ModuleOp module, const Target &target,
                                 const LowerOptions &options = {});

} // namespace kiln::codegen
