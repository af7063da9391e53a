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
// `args` (device pointers in the order of Step::args), for `rows` tokens
// from `position`. How the work is cut (CPU tasks, OpenCL work-groups) is
// the kernel's own, loaded with it.
struct Launch {
  uint32_t kernel = 0;
  void *const *args = nullptr;
  int64_t rows = 0;
  int64_t position = 0;
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

  // How many kernels it has loaded (indexed as ExecutionPlan::kernelSymbols;
  // the target that compiled them made the device with them).
  virtual size_t kernelCount() const = 0;

  // Copies between host memory and device memory (a pointer allocate
  // returned, plus an offset into it). Both finish before they return, and
  // fail with a message naming the device.
  virtual Status write(void *deviceDst, const void *hostSrc, uint64_t bytes) = 0;
  virtual Status read(const void *deviceSrc, void *hostDst, uint64_t bytes) = 0;
  // Device pointers are host pointers (the CPU): the executor then reads
  // results in place instead of copying them.
  virtual bool hostAddressable() const = 0;

  // Starts one step; it may still run when launch returns.
  virtual void launch(const Launch &launch) = 0;
  // Returns when every launch so far has finished and its writes are
  // visible to the host; an error when one of them (or a copy) failed,
  // e.g. the device ran out of memory.
  virtual Status synchronize() = 0;
};

} // namespace kiln::runtime
