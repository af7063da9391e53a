// kiln-opt: reads kiln-dialect MLIR, runs passes, prints the result. The lit
// tests drive every pass through it.
#include "KilnDialect.h"
#include "Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<kiln::ir::KilnDialect, mlir::func::FuncDialect>();
  // MLIR's generic passes (canonicalize, cse, ...) work on kiln graphs too.
  mlir::registerTransformsPasses();
  kiln::passes::registerKilnPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kiln optimizer driver\n", registry));
}
