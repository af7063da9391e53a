// The whole compiler for the CPU in one call: GGUF model -> ModelSpec ->
// kiln dialect -> execution plan -> LLVM kernels, JIT-loaded in process.
#pragma once

#include "PlanBuilder.h"
#include "cpu/CpuJit.h"
#include "model/ModelSpec.h"
#include "passes/PassOptions.h"
#include "support/Result.h"

#include <memory>
#include <string>

namespace kiln {
class GgufFile;
}

namespace kiln::codegen {

struct CpuCompileOptions {
  bool allLogits = false;  // prefill returns every token's logits
  LowerOptions lower;      // KV cache type, llama.cpp-style activations
  passes::PassOptions passes; // which graph passes run
  std::string printIrTo;   // "-" for stdout: the kiln graph, after the passes
  cpu::CpuOptions cpu;
};

struct CpuProgram {
  ModelSpec spec;
  LoweredModel lowered;
  std::unique_ptr<cpu::CpuJit> jit;
};

// The kiln graph of the model after the passes that options.passes (and
// the lowering options) enable.
Result<mlir::OwningOpRef<mlir::ModuleOp>>
buildGraph(mlir::MLIRContext &context, const ModelSpec &spec,
           const CpuCompileOptions &options);

Result<CpuProgram> compileForCpu(const GgufFile &file,
                                 const CpuCompileOptions &options = {});

} // namespace kiln::codegen
