#include "codegen/Program.h"

#include "codegen/cpu/CpuJit.h"

namespace kiln::codegen {

const cpu::CpuJit *Program::cpuJit() const {
  return dynamic_cast<const cpu::CpuJit *>(kernels.get());
}

Result<std::unique_ptr<runtime::Executor>>
makeExecutor(const Program &program, const GgufFile &weights, runtime::ThreadPool &pool,
             const runtime::ExecutorOptions &options) {
  if (!program.kernels)
    return makeError("the program has no loaded kernels");
  auto device = program.kernels->createDevice(pool);
  if (!device)
    return std::move(device).takeError();
  return runtime::Executor::create(program.lowered.plan, std::move(device).value(), weights,
                                   options);
}

} // namespace kiln::codegen
