// The CPU as a Device: host memory, weights read in place from the GGUF
// mapping, kernels as function pointers, a launch split across a thread
// pool and finished when launch returns.
#pragma once

#include "runtime/Device.h"
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/ThreadPool.h"

#include <memory>

namespace kiln::runtime {

class CpuDevice final : public Device {
public:
  // Runs `kernels` (indexed as ExecutionPlan::kernelSymbols) on a pool of
  // `threads` workers it owns.
  CpuDevice(std::vector<CpuKernel> kernels, unsigned threads);
  // Runs them on a pool its caller owns and keeps alive.
  CpuDevice(std::vector<CpuKernel> kernels, ThreadPool &pool)
      : pool_(pool), kernels_(std::move(kernels)) {}

  std::string_view name() const override { return "cpu"; }
  void *allocate(uint64_t bytes) override;
  void release(void *buffer) override;
  Result<const void *> upload(std::span<const uint8_t> weight) override;
  size_t kernelCount() const override { return kernels_.size(); }
  Status write(void *deviceDst, const void *hostSrc, uint64_t bytes) override;
  Status read(const void *deviceSrc, void *hostDst, uint64_t bytes) override;
  bool hostAddressable() const override { return true; }
  void launch(const Launch &launch) override;
  Status synchronize() override { return Status::success(); }

  ThreadPool &pool() { return pool_; }

private:
  std::unique_ptr<ThreadPool> ownedPool_;
  ThreadPool &pool_;
  std::vector<CpuKernel> kernels_;
};

} // namespace kiln::runtime
