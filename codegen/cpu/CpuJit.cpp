#include "codegen/cpu/CpuJit.h"
#include "codegen/cpu/KernelObject.h"

#include "runtime/cpu/CpuDevice.h"

#include "codegen/cpu/CpuKernelEmitter.h"
#include "codegen/cpu/CpuSchedule.h"
#include "codegen/llvm/OptimizePipeline.h"
#include "runtime/KernelCache.h"
#include "support/Sha256.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <optional>
#include <span>

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

// What the kernels may use of the CPU LLVM compiles for.
EmitTarget emitTargetFor(const MCSubtargetInfo &info) {
  EmitTarget target;
  target.avx2 = info.checkFeatures("+avx2");
  target.vnni = info.checkFeatures("+avx512vnni,+avx512vl") || info.checkFeatures("+avxvnni");
  target.wideVnni = info.checkFeatures("+avx512vnni,+avx512bw");
  target.avx512 = info.checkFeatures("+avx512f");
  target.avx512bw = info.checkFeatures("+avx512bw");
  target.prefetch = true;
  return target;
}

void optimize(Module &module, TargetMachine &machine) {
  PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  lowering::optimizeO3(module, machine, tuning);
}

// Bumped when generated code changes in ways the IR hash cannot see, or
// the entries' layout changes (2: objects come with a record of their hash).
constexpr const char *kCacheFormat = "kiln-cpu-2";

std::string cacheKey(const Module &module, const std::string &cpu,
                     const std::string &features) {
  std::string ir;
  raw_string_ostream stream(ir);
  module.print(stream, nullptr);
  stream.flush();
  Sha256 hash;
  for (const std::string &part :
       {std::string(kCacheFormat), std::string(LLVM_VERSION_STRING), cpu,
        features, ir}) {
    hash.update(part);
    hash.update(std::string_view("\0", 1));
  }
  return toHex(hash.finish());
}

void warnOnStderr(const std::string &message) {
  errs() << "kiln: warning: " << message << "\n";
}

Result<SmallVector<char, 0>> emitObject(Module &module, TargetMachine &machine) {
  SmallVector<char, 0> object;
  raw_svector_ostream stream(object);
  legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, stream, nullptr,
                                  CodeGenFileType::ObjectFile))
    return makeError("LLVM cannot emit object code for this target");
  passes.run(module);
  return object;
}

} // namespace

std::string defaultCacheDir() { return runtime::defaultKernelCacheDir(); }

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
  EmitTarget target = emitTargetFor(*(*machine)->getMCSubtargetInfo());
  for (size_t i = 0; i < model.kernels.size(); ++i)
    KILN_TRY(emitKernel(*module, model.kernels[i], model.plan.kernelSymbols[i],
                        target));
  std::string problems;
  raw_string_ostream problemStream(problems);
  if (verifyModule(*module, &problemStream))
    return makeError("internal error: generated kernels do not verify: ",
                     problems);
  std::string features = builder->getFeatures().getString();
  std::string cpu = sys::getHostCPUName().str();
  std::optional<runtime::KernelCache> cache;
  std::string key;
  if (!options.cacheDir.empty()) {
    cache.emplace(runtime::KernelCache::open(options.cacheDir, warnOnStderr));
    key = cacheKey(*module, cpu, features);
  }
  std::unique_ptr<MemoryBuffer> object;
  bool cacheHit = false;
  if (cache && cache->enabled() && !options.irOut) {
    // Only bytes that passed the cache's checks reach ORC, and ORC gets
    // this copy, not the file, so the file cannot change in between.
    if (auto cached = cache->read(key)) {
      object = MemoryBuffer::getMemBufferCopy(
          StringRef(reinterpret_cast<const char *>(cached->data()), cached->size()),
          cache->objectPath(key));
      cacheHit = true;
    }
  }
  if (!object) {
    optimize(*module, **machine);
    auto bytes = emitObject(*module, **machine);
    if (!bytes)
      return std::move(bytes).takeError();
    object = MemoryBuffer::getMemBufferCopy(StringRef(bytes->data(), bytes->size()),
                                            "kiln_kernels.o");
    // A cache that cannot be written only costs time; the run goes on.
    if (cache && cache->enabled())
      (void)cache->write(key, std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t *>(bytes->data()),
                                  bytes->size()));
  }
  if (options.irOut) {
    options.irOut->clear();
    raw_string_ostream out(*options.irOut);
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
  if (auto error = (*jit)->addObjectFile(std::move(object)))
    return toError(std::move(error));

  std::unique_ptr<CpuJit> result(new CpuJit());
  result->cpuName_ = cpu;
  result->cacheHit_ = cacheHit;
  for (size_t i = 0; i < model.plan.kernelSymbols.size(); ++i) {
    auto address = (*jit)->lookup(model.plan.kernelSymbols[i]);
    if (!address)
      return toError(address.takeError());
    result->kernels_.push_back({address->toPtr<runtime::KernelFn>(),
                                taskCount(model.kernels[i])});
  }
  result->jit_ = std::move(*jit);
  return result;
}

Result<KernelObject> compileKernelObject(const LoweredModel &model, const std::string &cpu) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  const bool native = cpu.empty() || cpu == "native";
  std::string triple = sys::getProcessTriple();
  std::string lookupError;
  const Target *llvmTarget = TargetRegistry::lookupTarget(triple, lookupError);
  if (!llvmTarget)
    return makeError("LLVM has no target for ", triple, ": ", lookupError);
  std::string cpuName = native ? sys::getHostCPUName().str() : cpu;
  TargetOptions targetOptions;
  std::unique_ptr<TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, cpuName, native ? hostFeatures() : "", targetOptions, Reloc::PIC_,
      CodeModel::Small, CodeGenOptLevel::Aggressive));
  if (!machine)
    return makeError("LLVM cannot make a target machine for CPU '", cpuName, "'");
  const MCSubtargetInfo *info = machine->getMCSubtargetInfo();
  if (!native && !info->isCPUStringValid(cpuName))
    return makeError("--cpu ", cpuName, ": LLVM does not know this CPU (names as in ",
                     "`llc-19 -mcpu=help`, e.g. x86-64-v3, znver4, sapphirerapids; or native)");

  LLVMContext context;
  Module module("kiln_kernels", context);
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(triple);
  EmitTarget target = emitTargetFor(*info);
  for (size_t i = 0; i < model.kernels.size(); ++i)
    KILN_TRY(emitKernel(module, model.kernels[i], model.plan.kernelSymbols[i], target));
  std::string problems;
  raw_string_ostream problemStream(problems);
  if (verifyModule(module, &problemStream))
    return makeError("internal error: generated kernels do not verify: ", problems);
  optimize(module, *machine);
  auto bytes = emitObject(module, *machine);
  if (!bytes)
    return std::move(bytes).takeError();

  KernelObject result;
  result.object.assign(bytes->begin(), bytes->end());
  result.cpu = cpuName;
  for (const SubtargetFeatureKV &feature : info->getAllProcessorFeatures())
    if (info->checkFeatures(std::string("+") + feature.Key))
      result.features.push_back(feature.Key);
  for (const KernelDesc &d : model.kernels)
    result.tasks.push_back(taskCount(d));
  return result;
}

Result<std::unique_ptr<runtime::Device>> CpuJit::createDevice(runtime::ThreadPool &pool) const {
  return std::unique_ptr<runtime::Device>(std::make_unique<runtime::CpuDevice>(kernels_, pool));
}

} // namespace kiln::codegen::cpu
