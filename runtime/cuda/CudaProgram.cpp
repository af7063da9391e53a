#include "runtime/cuda/CudaProgram.h"

namespace kiln::runtime::cuda {

Result<std::shared_ptr<CudaProgram>> CudaProgram::load(std::shared_ptr<CudaContext> context,
                                                       CudaModule module) {
  const CudaFacts &facts = context->facts();
  const int target = smVersion(module.arch);
  if (target == 0)
    return makeError("CUDA module for '", module.arch, "': not an sm_XY architecture");
  if (facts.sm() < target)
    return makeError("CUDA device '", facts.name, "' is sm_", std::to_string(facts.sm()),
                     ", older than the kernels' target ", module.arch,
                     ": compile them with --cuda-arch sm_", std::to_string(facts.sm()),
                     facts.sm() < 75 ? " (kiln's PTX needs sm_75 or newer)" : "");
  KILN_TRY(context->makeCurrent());
  std::shared_ptr<CudaProgram> program(new CudaProgram());
  program->context_ = std::move(context);
  program->module_ = std::move(module);
  const DriverApi &api = program->context_->api();
  char errorLog[8192] = {};
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {errorLog, reinterpret_cast<void *>(uintptr_t(sizeof errorLog - 1))};
  CUresult loaded = api.cuModuleLoadDataEx(&program->loaded_, program->module_.ptx.c_str(),
                                           2, options, values);
  if (loaded != CUDA_SUCCESS)
    return makeError("CUDA device '", facts.name, "': the driver refused the kernels' PTX: ",
                     program->context_->driver().describe(loaded),
                     errorLog[0] ? std::string("\n") + errorLog : std::string());
  size_t positionBytes = 0;
  KILN_TRY(program->context_->driver().check(
      api.cuModuleGetGlobal(&program->position_, &positionBytes, program->loaded_,
                            kPositionSymbol),
      std::string("the kernels' global '") + kPositionSymbol + "'"));
  if (positionBytes != sizeof(int64_t))
    return makeError("the kernels' global '", kPositionSymbol, "' holds ",
                     std::to_string(positionBytes), " bytes, not 8");
  for (const CudaKernelEntry &entry : program->module_.kernels) {
    CUfunction function = nullptr;
    KILN_TRY(program->context_->driver().check(
        api.cuModuleGetFunction(&function, program->loaded_, entry.name.c_str()),
        "CUDA kernel '" + entry.name + "'"));
    program->functions_.push_back(function);
  }
  return program;
}

CudaProgram::~CudaProgram() {
  if (loaded_)
    context_->api().cuModuleUnload(loaded_);
}

} // namespace kiln::runtime::cuda
