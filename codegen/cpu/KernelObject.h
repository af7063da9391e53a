// The CPU kernels compiled ahead of time: a position-independent object
// for a named CPU (or this host), and the shared object linked from it,
// which an AOT artifact carries and the runner loads without LLVM.
#pragma once

#include "codegen/LoweredModel.h"
#include "runtime/cpu/CpuKernel.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::codegen::cpu {

struct KernelObject {
  std::vector<uint8_t> object;            // relocatable ELF, position independent
  std::string cpu;                        // the LLVM CPU name it is tuned for
  std::vector<std::string> features;      // the CPU features it may use
  std::vector<runtime::TaskCount> tasks;  // per kernel of the plan
};

// `cpu`: an LLVM CPU name ("x86-64-v3", "znver3", "sapphirerapids"), or
// "native" for this host with its features. An unknown name is an error
// that says how to list the known ones.
Result<KernelObject> compileKernelObject(const LoweredModel &model, const std::string &cpu);

// Links `object` into an ELF shared object with LLVM's linker (ld.lld-19,
// ld.lld) or the system's (ld); $KILN_LINKER names another. The kernels'
// calls into libm stay undefined: the process that loads them has libm.
Result<std::vector<uint8_t>> linkSharedObject(std::span<const uint8_t> object);

} // namespace kiln::codegen::cpu
