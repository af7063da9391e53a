// What the CUDA target hands the CUDA device: one PTX module holding every
// kernel of a plan, the GPU architecture it was generated for, and how each
// kernel is launched. Plain data, no CUDA headers: the compiler fills it,
// the device loads it through the driver (an AOT artifact can store it).
#pragma once

#include "runtime/cpu/CpuKernel.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::runtime::cuda {

// The module's global holding the position of the first row of the step
// (.visible .global .u64): every entry reads it, and the device writes it
// before the step's kernels run. Not a parameter, so that a step captured
// as a CUDA graph replays with each token's position.
inline constexpr const char *kPositionSymbol = "kiln_position";

// One .entry of the module. Its parameters are the `argCount` plan
// arguments (Step::args, in order) as device pointers, then the rows in
// flight:
//   .entry NAME(.param .u64 a0, ..., .param .u64 rows)
// One thread does one task of the work (`tasks`: fixed + perRow * rows),
// in blocks of `blockSize` threads.
struct CudaKernelEntry {
  std::string name;
  uint32_t argCount = 0;
  TaskCount tasks;
  uint32_t blockSize = 64;
};

struct CudaModule {
  std::string ptx;  // the PTX text, every kernel of the plan
  std::string arch; // the GPU it targets: "sm_80" (runs on sm_80 and newer)
  std::vector<CudaKernelEntry> kernels; // indexed as ExecutionPlan::kernelSymbols
};

// "sm_80" -> 80; 0 when it is not of that form.
inline int smVersion(const std::string &arch) {
  if (arch.size() < 4 || arch.compare(0, 3, "sm_") != 0)
    return 0;
  int version = 0;
  for (size_t i = 3; i < arch.size(); ++i) {
    if (arch[i] < '0' || arch[i] > '9')
      return 0;
    version = version * 10 + (arch[i] - '0');
  }
  return version;
}

} // namespace kiln::runtime::cuda
