// The kiln graph passes (declared in Passes.td) and the pipeline that runs
// them.
#pragma once

#include "KilnDialect.h"
#include "PassOptions.h"
#include "support/Result.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace kiln::passes {

#define GEN_PASS_DECL
#include "Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Passes.h.inc"

// Runs the enabled fusion passes, in fusionPassNames() order, on every
// function of the module.
Status runPasses(mlir::ModuleOp module, const PassOptions &options);

} // namespace kiln::passes
