// The device a plan runs on, as the executor sees it: memory it allocates,
// weights it is handed, the table of kernels it loaded, and launches of one
// plan step at a time. The executor is written against this alone, so a
// second device (OpenCL, CUDA) is a new folder beside runtime/cpu/, not a
// second executor.
#pragma once

#include "ExecutionPlan.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace kiln::runtime {

// One plan step on the device: kernel `kernel` of the loaded table over
// `args` (buffer pointers in the order of Step::args), for `rows` tokens
// from `position`, its work cut into `tasks` pieces.
struct Launch {
  uint32_t kernel = 0;
  void *const *args = nullptr;
  int64_t rows = 0;
  int64_t position = 0;
  int64_t tasks = 0;
};

class Device {
public:
  virtual ~Device() = default;

  virtual std::string_view name() const = 0;

  // Zero-filled device memory of at least `bytes`, aligned for any kernel
  // argument; nullptr when the device has not that much. Freed by release.
  virtual void *allocate(uint64_t bytes) = 0;
  virtual void release(void *buffer) = 0;

  // The device's copy of a weight the host holds (the GGUF mapping), valid
  // while the device lives and the mapping stays.
  virtual Result<const void *> upload(std::span<const uint8_t> weight) = 0;

  // The kernels of the plan, indexed as ExecutionPlan::kernelSymbols.
  virtual Status loadKernels(std::vector<KernelFn> kernels) = 0;

  // Starts one step; it may still run when launch returns.
  virtual void launch(const Launch &launch) = 0;
  // Returns when every launch so far has finished and its writes are
  // visible to the host.
  virtual void synchronize() = 0;
};

} // namespace kiln::runtime
