#include "CpuJit.h"

#include "CpuKernelEmitter.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace llvm;

namespace kiln::codegen::cpu {

namespace {

kiln::Error toError(llvm::Error error) {
  return kiln::Error{"LLVM: " + toString(std::move(error))};
}

std::string hostFeatures() {
  std::string features;
  for (const auto &[name, enabled] : sys::getHostCPUFeatures())
    features += (features.empty() ? "" : ",") + std::string(enabled ? "+" : "-") +
                name.str();
  return features;
}

void optimize(Module &module, TargetMachine &machine) {
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cam;
  ModuleAnalysisManager mam;
  PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  PassBuilder passes(&machine, tuning);
  passes.registerModuleAnalyses(mam);
  passes.registerCGSCCAnalyses(cam);
  passes.registerFunctionAnalyses(fam);
  passes.registerLoopAnalyses(lam);
  passes.crossRegisterProxies(lam, fam, cam, mam);
  passes.buildPerModuleDefaultPipeline(OptimizationLevel::O3).run(module, mam);
}

} // namespace

CpuJit::~CpuJit() = default;

Result<std::unique_ptr<CpuJit>> CpuJit::compile(const LoweredModel &model,
                                                const CpuOptions &options) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();

  auto builder = orc::JITTargetMachineBuilder::detectHost();
  if (!builder)
    return toError(builder.takeError());
  builder->setCPU(sys::getHostCPUName().str());
  builder->getFeatures() = SubtargetFeatures(
      options.features.empty() ? hostFeatures() : options.features);
  builder->setCodeGenOptLevel(CodeGenOptLevel::Aggressive);
  auto machine = builder->createTargetMachine();
  if (!machine)
    return toError(machine.takeError());

  auto context = std::make_unique<LLVMContext>();
  auto module = std::make_unique<Module>("kiln_kernels", *context);
  module->setDataLayout((*machine)->createDataLayout());
  module->setTargetTriple((*machine)->getTargetTriple().str());
  for (size_t i = 0; i < model.kernels.size(); ++i)
    KILN_TRY(emitKernel(*module, model.kernels[i], model.plan.kernelSymbols[i]));
  std::string problems;
  raw_string_ostream problemStream(problems);
  if (verifyModule(*module, &problemStream))
    return makeError("internal error: generated kernels do not verify: ",
                     problems);
  optimize(*module, **machine);
  if (!options.dumpIrPath.empty()) {
    std::error_code ec;
    raw_fd_ostream out(options.dumpIrPath, ec, sys::fs::OF_Text);
    if (ec)
      return makeError(options.dumpIrPath, ": ", ec.message());
    module->print(out, nullptr);
  }

  auto jit = orc::LLJITBuilder().setJITTargetMachineBuilder(*builder).create();
  if (!jit)
    return toError(jit.takeError());
  // Kernels call libm (expf, cosf, ...): resolve from this process.
  auto generator = orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!generator)
    return toError(generator.takeError());
  (*jit)->getMainJITDylib().addGenerator(std::move(*generator));
  if (auto error = (*jit)->addIRModule(
          orc::ThreadSafeModule(std::move(module), std::move(context))))
    return toError(std::move(error));

  std::unique_ptr<CpuJit> result(new CpuJit());
  result->cpuName_ = sys::getHostCPUName().str();
  for (const std::string &symbol : model.plan.kernelSymbols) {
    auto address = (*jit)->lookup(symbol);
    if (!address)
      return toError(address.takeError());
    result->kernels_.push_back(address->toPtr<runtime::KernelFn>());
  }
  result->jit_ = std::move(*jit);
  return result;
}

} // namespace kiln::codegen::cpu
