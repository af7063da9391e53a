// What compiling a model gives: its spec, its execution plan with the
// kernel descriptions, and the loaded kernels of the target it was
// compiled for.
#pragma once

#include "codegen/KernelModule.h"
#include "codegen/LoweredModel.h"
#include "model/ModelSpec.h"
#include "runtime/Executor.h"

#include <memory>

namespace kiln {
class GgufFile;
}

namespace kiln::codegen {

namespace cpu {
class CpuJit;
}

struct Program {
  ModelSpec spec;
  LoweredModel lowered;
  std::unique_ptr<KernelModule> kernels;

  // The CPU JIT when the CPU target compiled it (its cache state, its CPU
  // name), else null.
  const cpu::CpuJit *cpuJit() const;
};

// An executor for the program's plan on the device its kernels make;
// `weights` is the GGUF the program was compiled from and must outlive it.
Result<std::unique_ptr<runtime::Executor>>
makeExecutor(const Program &program, const GgufFile &weights, runtime::ThreadPool &pool,
             const runtime::ExecutorOptions &options = {});

} // namespace kiln::codegen
