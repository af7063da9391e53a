#include "codegen/llvm/OptimizePipeline.h"

using namespace llvm;

namespace kiln::codegen::lowering {

void optimizeO3(Module &module, TargetMachine &machine, const PipelineTuningOptions &tuning) {
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cam;
  ModuleAnalysisManager mam;
  PassBuilder passes(&machine, tuning);
  passes.registerModuleAnalyses(mam);
  passes.registerCGSCCAnalyses(cam);
  passes.registerFunctionAnalyses(fam);
  passes.registerLoopAnalyses(lam);
  passes.crossRegisterProxies(lam, fam, cam, mam);
  passes.buildPerModuleDefaultPipeline(OptimizationLevel::O3).run(module, mam);
}

} // namespace kiln::codegen::lowering
