// A CUDA GPU as the executor's Device: memory from cuMemAlloc (device
// pointers the executor offsets like host ones, never dereferenced on the
// host), weights copied to the GPU once, each step one cuLaunchKernel on
// the context's stream, synchronize cuStreamSynchronize.
#pragma once

#include "runtime/Device.h"
#include "runtime/cuda/CudaProgram.h"

#include <memory>
#include <set>
#include <string>

namespace kiln::runtime::cuda {

class CudaDevice final : public Device {
public:
  explicit CudaDevice(std::shared_ptr<CudaProgram> program);
  ~CudaDevice() override;

  std::string_view name() const override { return "cuda"; }
  void *allocate(uint64_t bytes) override;
  void release(void *buffer) override;
  Result<const void *> upload(std::span<const uint8_t> weight) override;
  size_t kernelCount() const override { return program_->kernelCount(); }
  Status write(void *deviceDst, const void *hostSrc, uint64_t bytes) override;
  Status read(const void *deviceSrc, void *hostDst, uint64_t bytes) override;
  bool hostAddressable() const override { return false; }
  void launch(const Launch &launch) override;
  Status synchronize() override;

private:
  Status check(CUresult result, const std::string &what) const;
  std::shared_ptr<CudaProgram> program_;
  std::set<CUdeviceptr> allocations_;
  std::string error_; // the first failure since the last synchronize
};

} // namespace kiln::runtime::cuda
