// A device kernel (OpenCL, CUDA) reads as many arguments as its module
// entry says, so every plan step that calls it must pass that many: a step
// passing fewer would have the kernel read past the step's arguments. The
// CPU target's kernels take the step's argument array as it is.
#pragma once

#include "runtime/ExecutionPlan.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime {

// Success, or an error "<where>: ..." naming the step and the kernel, when
// a step calls a kernel that `argCounts` lacks or passes another number of
// arguments than argCounts[kernel].
Status checkStepArguments(const ExecutionPlan &plan, std::span<const uint32_t> argCounts,
                          const std::string &where);

// The same for a module's entries, each with its `argCount` (OpenCL's
// KernelEntry, CUDA's CudaKernelEntry).
template <typename Entry>
Status checkEntryArguments(const ExecutionPlan &plan, const std::vector<Entry> &entries,
                           const std::string &where) {
  std::vector<uint32_t> counts;
  counts.reserve(entries.size());
  for (const Entry &entry : entries)
    counts.push_back(entry.argCount);
  return checkStepArguments(plan, counts, where);
}

} // namespace kiln::runtime
