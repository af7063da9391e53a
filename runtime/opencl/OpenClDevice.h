// An OpenCL device as the executor's Device: buffers are cl_mem objects,
// weights are copied to the device once, a launch is one
// clEnqueueNDRangeKernel on an in-order queue, synchronize is clFinish.
//
// The executor does pointer arithmetic on what allocate returns (the
// arena's buffers are offsets into it), so allocate hands out addresses of
// a private range that maps to (cl_mem, offset); nothing ever dereferences
// them on the host. A kernel gets each argument as its buffer and byte
// offset (OpenClModule.h).
#pragma once

#include "runtime/Device.h"
#include "runtime/opencl/OpenClProgram.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::runtime::opencl {

class OpenClDevice final : public Device {
public:
  explicit OpenClDevice(std::shared_ptr<OpenClProgram> program);
  ~OpenClDevice() override;

  std::string_view name() const override { return "opencl"; }
  void *allocate(uint64_t bytes) override;
  void release(void *buffer) override;
  Result<const void *> upload(std::span<const uint8_t> weight) override;
  size_t kernelCount() const override { return program_->kernels().size(); }
  Status write(void *deviceDst, const void *hostSrc, uint64_t bytes) override;
  Status read(const void *deviceSrc, void *hostDst, uint64_t bytes) override;
  bool hostAddressable() const override { return false; }
  void launch(const Launch &launch) override;
  Status synchronize() override;

private:
  struct Allocation {
    cl_mem buffer = nullptr;
    uint64_t bytes = 0;
  };
  // The allocation holding `address` and the offset into it; null buffer
  // when it is no device address.
  std::pair<cl_mem, uint64_t> resolve(const void *address) const;
  void *track(cl_mem buffer, uint64_t bytes);
  void fail(std::string message);
  Status copyError(std::string message) const;

  std::shared_ptr<OpenClProgram> program_;
  std::map<uintptr_t, Allocation> allocations_;
  uintptr_t nextAddress_;
  std::string error_; // the first failure since the last synchronize
};

} // namespace kiln::runtime::opencl
