#include "codegen/cuda/PtxGenerator.h"

#include "codegen/cpu/CpuKernelEmitter.h"
#include "codegen/cpu/CpuSchedule.h"
#include "codegen/cuda/LibDevice.h"
#include "codegen/llvm/OptimizePipeline.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/IntrinsicsNVPTX.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <mutex>

using namespace llvm;

namespace kiln::codegen::cuda {

namespace {

constexpr const char *kTriple = "nvptx64-nvidia-cuda";
// Threads per block: every kernel's tasks are independent, so the block
// only sets how finely the grid covers them.
constexpr uint32_t kBlockSize = 64;

void initializeNvptx() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

// The plan arguments each kernel takes: every step calling it passes the
// same number.
Result<std::vector<uint32_t>> argumentCounts(const LoweredModel &lowered) {
  std::vector<int64_t> counts(lowered.kernels.size(), -1);
  for (const runtime::EntryPoint *entry : {&lowered.plan.prefill, &lowered.plan.decode})
    for (const runtime::Step &step : entry->steps) {
      if (step.kernel >= counts.size())
        return makeError("plan step '", step.label, "' names a missing kernel");
      int64_t &count = counts[step.kernel];
      if (count >= 0 && count != int64_t(step.args.size()))
        return makeError("internal error: kernel '", lowered.plan.kernelSymbols[step.kernel],
                         "' is called with ", std::to_string(count), " and ",
                         std::to_string(step.args.size()), " arguments");
      count = int64_t(step.args.size());
    }
  std::vector<uint32_t> result;
  for (int64_t count : counts)
    result.push_back(count < 0 ? 0 : uint32_t(count));
  return result;
}

// The module's position global (runtime::cuda::kPositionSymbol): the
// device writes it before the kernels of a step read it, so a captured
// step replays with the position of the call.
GlobalVariable *positionGlobal(Module &module) {
  if (GlobalVariable *found = module.getNamedGlobal(runtime::cuda::kPositionSymbol))
    return found;
  auto *i64 = Type::getInt64Ty(module.getContext());
  auto *global = new GlobalVariable(module, i64, false, GlobalValue::ExternalLinkage,
                                    ConstantInt::get(i64, 0), runtime::cuda::kPositionSymbol,
                                    nullptr, GlobalValue::NotThreadLocal, /*global*/ 1);
  global->setAlignment(Align(8));
  return global;
}

// The PTX entry `name`: thread (block * blockDim + thread) runs task
// number itself of `body`, when the call has that many tasks.
void emitEntry(Module &module, Function *body, const std::string &name,
               uint32_t argCount, runtime::TaskCount tasks) {
  LLVMContext &ctx = module.getContext();
  auto *ptr = PointerType::get(ctx, 0);
  auto *i64 = Type::getInt64Ty(ctx);
  std::vector<Type *> params(argCount, ptr);
  params.push_back(i64); // rows
  auto *entry = Function::Create(FunctionType::get(Type::getVoidTy(ctx), params, false),
                                 Function::ExternalLinkage, name, module);
  entry->addFnAttr(Attribute::NoUnwind);
  for (uint32_t i = 0; i < argCount; ++i)
    entry->addParamAttr(i, Attribute::NoUndef);
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", entry));
  // The task bodies read their arguments from an array of pointers; after
  // inlining the loads fold into the parameters.
  Value *args = b.CreateAlloca(ArrayType::get(ptr, argCount ? argCount : 1));
  for (uint32_t i = 0; i < argCount; ++i)
    b.CreateStore(entry->getArg(i), b.CreateConstInBoundsGEP2_32(
                                        ArrayType::get(ptr, argCount), args, 0, i));
  Value *rows = entry->getArg(argCount);
  Value *position = b.CreateAlignedLoad(i64, positionGlobal(module), Align(8), "position");
  auto special = [&](Intrinsic::ID id) {
    return b.CreateZExt(b.CreateIntrinsic(id, {}, {}), i64);
  };
  Value *task = b.CreateAdd(
      b.CreateMul(special(Intrinsic::nvvm_read_ptx_sreg_ctaid_x),
                  special(Intrinsic::nvvm_read_ptx_sreg_ntid_x)),
      special(Intrinsic::nvvm_read_ptx_sreg_tid_x));
  Value *count = b.CreateAdd(b.getInt64(tasks.fixed),
                             b.CreateMul(b.getInt64(tasks.perRow), rows));
  BasicBlock *run = BasicBlock::Create(ctx, "run", entry);
  BasicBlock *done = BasicBlock::Create(ctx, "done", entry);
  b.CreateCondBr(b.CreateICmpULT(task, count), run, done);
  b.SetInsertPoint(run);
  b.CreateCall(body, {args, rows, position, task, b.CreateAdd(task, b.getInt64(1))});
  b.CreateBr(done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();

  // Marks it a kernel, launched with at most kBlockSize threads.
  NamedMDNode *annotations = module.getOrInsertNamedMetadata("nvvm.annotations");
  auto annotate = [&](const char *key, uint32_t value) {
    annotations->addOperand(MDNode::get(
        ctx, {ValueAsMetadata::get(entry), MDString::get(ctx, key),
              ConstantAsMetadata::get(b.getInt32(value))}));
  };
  annotate("kernel", 1);
  annotate("maxntidx", kBlockSize);
}

} // namespace

bool isSupportedArch(const std::string &arch) {
  const int version = runtime::cuda::smVersion(arch);
  return version >= 75 && version <= 90;
}

Result<runtime::cuda::CudaModule> generatePtx(const LoweredModel &lowered,
                                              const PtxOptions &options) {
  if (!isSupportedArch(options.arch))
    return makeError("CUDA architecture '", options.arch,
                     "': kiln's PTX targets sm_75 to sm_90 (sm_80: A100 and newer, "
                     "sm_90: H100/H200)");
  initializeNvptx();
  std::string lookupError;
  const llvm::Target *nvptx = TargetRegistry::lookupTarget(kTriple, lookupError);
  if (!nvptx)
    return makeError("LLVM has no NVPTX back end: ", lookupError);
  // Contraction only where the IR allows it (the shared emitters say where),
  // as on the CPU.
  TargetOptions targetOptions;
  targetOptions.AllowFPOpFusion = FPOpFusion::Standard;
  std::unique_ptr<TargetMachine> machine(nvptx->createTargetMachine(
      kTriple, options.arch, "", targetOptions, std::nullopt, std::nullopt,
      CodeGenOptLevel::Aggressive));
  if (!machine)
    return makeError("LLVM cannot make an NVPTX target machine for ", options.arch);

  auto counts = argumentCounts(lowered);
  if (!counts)
    return std::move(counts).takeError();
  LLVMContext context;
  Module module("kiln_cuda_kernels", context);
  module.setTargetTriple(kTriple);
  module.setDataLayout(machine->createDataLayout());
  runtime::cuda::CudaModule result;
  result.arch = options.arch;
  std::vector<std::string> entries;
  const cpu::EmitTarget noX86; // the shared lowering without x86 instructions
  for (size_t i = 0; i < lowered.kernels.size(); ++i) {
    const std::string &name = lowered.plan.kernelSymbols[i];
    const std::string bodyName = name + ".task";
    if (Status emitted = cpu::emitKernel(module, lowered.kernels[i], bodyName, noX86);
        !emitted.ok())
      return makeError("CUDA kernel '", name, "': ", emitted.message());
    Function *body = module.getFunction(bodyName);
    body->setLinkage(GlobalValue::InternalLinkage);
    body->addFnAttr(Attribute::AlwaysInline);
    const runtime::TaskCount tasks = cpu::taskCount(lowered.kernels[i]);
    emitEntry(module, body, name, (*counts)[i], tasks);
    entries.push_back(name);
    result.kernels.push_back({name, (*counts)[i], tasks, kBlockSize});
  }
  // The position global is written by the device: internal, it would be
  // folded to its initial 0.
  entries.push_back(runtime::cuda::kPositionSymbol);
  KILN_TRY(linkLibDevice(module, entries));
  std::string problems;
  raw_string_ostream problemStream(problems);
  if (verifyModule(module, &problemStream))
    return makeError("internal error: generated CUDA kernels do not verify: ", problems);
  lowering::optimizeO3(module, *machine);
  if (options.irOut) {
    options.irOut->clear();
    raw_string_ostream out(*options.irOut);
    module.print(out, nullptr);
  }
  SmallString<0> ptx;
  raw_svector_ostream stream(ptx);
  legacy::PassManager emit;
  if (machine->addPassesToEmitFile(emit, stream, nullptr, CodeGenFileType::AssemblyFile))
    return makeError("LLVM cannot emit PTX for ", options.arch);
  emit.run(module);
  result.ptx = ptx.str().str();
  return result;
}

} // namespace kiln::codegen::cuda
