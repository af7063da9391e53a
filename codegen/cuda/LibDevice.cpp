#include "codegen/cuda/LibDevice.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Transforms/IPO/Internalize.h"

#include <cstdlib>
#include <filesystem>
#include <set>

using namespace llvm;

namespace kiln::codegen::cuda {

std::vector<std::string> libDeviceCandidates() {
  std::vector<std::string> paths;
  if (const char *file = std::getenv("KILN_CUDA_LIBDEVICE"); file && *file)
    paths.push_back(file);
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *root = std::getenv(variable); root && *root)
      paths.push_back(std::string(root) + "/nvvm/libdevice/libdevice.10.bc");
  paths.push_back("/usr/local/cuda/nvvm/libdevice/libdevice.10.bc");
  return paths;
}

namespace {

Result<std::unique_ptr<Module>> readLibDevice(LLVMContext &context,
                                              const std::string &firstCall) {
  std::string looked;
  for (const std::string &path : libDeviceCandidates()) {
    looked += (looked.empty() ? "" : ", ") + path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      continue;
    auto buffer = MemoryBuffer::getFile(path);
    if (!buffer)
      return makeError(path, ": ", buffer.getError().message());
    auto module = parseBitcodeFile((*buffer)->getMemBufferRef(), context);
    if (!module)
      return makeError(path, ": not LLVM bitcode: ", toString(module.takeError()));
    return std::move(*module);
  }
  return makeError("the kernels call ", firstCall,
                   ", which comes from CUDA's libdevice, and none was found (looked for ",
                   looked, "; install the CUDA toolkit or set KILN_CUDA_LIBDEVICE)");
}

} // namespace

Status linkLibDevice(Module &module, const std::vector<std::string> &keep) {
  // Every function declared and not an intrinsic is a libm call of the
  // shared emitters (LoopEmitter::callMath): libdevice has it as __nv_NAME.
  std::vector<std::string> needed;
  for (Function &function : module.functions()) {
    if (!function.isDeclaration() || function.isIntrinsic())
      continue;
    std::string name = function.getName().str();
    if (name.rfind("__nv_", 0) != 0) {
      function.setName("__nv_" + name);
      name = function.getName().str();
    }
    needed.push_back(name);
  }
  if (needed.empty())
    return Status::success();
  auto libDevice = readLibDevice(module.getContext(), needed.front().substr(5));
  if (!libDevice)
    return std::move(libDevice).takeError();
  for (const std::string &name : needed) {
    Function *found = (*libDevice)->getFunction(name);
    if (!found || found->isDeclaration())
      return makeError("the kernels call ", name.substr(5), ", which libdevice lacks (",
                       name, ")");
  }
  (*libDevice)->setTargetTriple(module.getTargetTriple());
  (*libDevice)->setDataLayout(module.getDataLayout());
  if (Linker::linkModules(module, std::move(*libDevice), Linker::Flags::LinkOnlyNeeded))
    return makeError("internal error: linking libdevice failed");
  // libdevice's __nvvm_reflect("__CUDA_FTZ") reads this: keep denormals.
  module.addModuleFlag(Module::Override, "nvvm-reflect-ftz", uint32_t(0));
  std::set<std::string> entries(keep.begin(), keep.end());
  internalizeModule(module, [&](const GlobalValue &value) {
    return entries.count(value.getName().str()) != 0;
  });
  return Status::success();
}

} // namespace kiln::codegen::cuda
