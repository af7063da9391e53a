// What compiling a model gives: its spec, its execution plan with the
// kernel descriptions, and the loaded kernels.
#pragma once

#include "codegen/LoweredModel.h"
#include "codegen/cpu/CpuJit.h"
#include "model/ModelSpec.h"

#include <memory>

namespace kiln::codegen {

struct Program {
  ModelSpec spec;
  LoweredModel lowered;
  // The loaded kernels. Only the CPU target exists, and the executor runs
  // CPU function pointers, so this is the CPU JIT; it becomes a
  // target-neutral loaded module with the runtime's device interface
  // (issue 14, docs/targets.md).
  std::unique_ptr<cpu::CpuJit> jit;
};

} // namespace kiln::codegen
