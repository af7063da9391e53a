// The compiler in one call, for every target: GGUF model -> ModelSpec ->
// kiln dialect -> passes (within the target's limits) -> execution plan
// -> the target's kernels, loaded in process.
#pragma once

#include "codegen/PlanBuilder.h"
#include "codegen/Program.h"
#include "codegen/cpu/CpuJit.h"
#include "model/ModelSpec.h"
#include "passes/PassOptions.h"
#include "support/Result.h"

#include <string>

namespace kiln {
class GgufFile;
}

namespace kiln::codegen {

struct CompileOptions {
  std::string target = "cpu"; // a name in the registry (TargetRegistry.h)
  bool allLogits = false;     // prefill returns every token's logits
  LowerOptions lower;         // KV cache type, llama.cpp-style activations
  passes::PassOptions passes; // which graph passes run
  std::string printIrTo;      // "-" for stdout: the kiln graph, after the passes
  // Compiled kernels are kept here for the next run (each target checks
  // its entries: runtime/KernelCache.h); empty: no cache.
  std::string cacheDir;
  cpu::CpuOptions cpu;        // read by the CPU target only
  // Read by the CUDA target only: the GPU architecture of its PTX ("sm_80");
  // empty: the device's own (JIT) or sm_80 (no device at hand).
  std::string cudaArch;
};

// The kiln graph of the model after the passes that options.passes (and
// the lowering options) enable and the target of options.target can run.
Result<mlir::OwningOpRef<mlir::ModuleOp>>
buildGraph(mlir::MLIRContext &context, const ModelSpec &spec,
           const CompileOptions &options);

// The execution plan of a graph buildGraph made, lowered for the target
// of options.target (what --emit plan and --emit opencl show).
Result<LoweredModel> lowerGraph(mlir::ModuleOp module, const CompileOptions &options);

// Compiles for the target named by options.target; an unknown or not yet
// built target is an error naming the ones there are.
Result<Program> compile(const GgufFile &file, const CompileOptions &options = {});

} // namespace kiln::codegen
