// The CPU as a Device: host memory, weights read in place from the GGUF
// mapping, kernels as function pointers, a launch split across a thread
// pool and finished when launch returns.
#pragma once

#include "runtime/Device.h"
#include "runtime/cpu/ThreadPool.h"

#include <memory>

namespace kiln::runtime {

class CpuDevice final : public Device {
public:
  // Owns a pool of `threads` workers.
  explicit CpuDevice(unsigned threads);
  // Runs on a pool its caller owns and keeps alive.
  explicit CpuDevice(ThreadPool &pool) : pool_(pool) {}

  std::string_view name() const override { return "cpu"; }
  void *allocate(uint64_t bytes) override;
  void release(void *buffer) override;
  Result<const void *> upload(std::span<const uint8_t> weight) override;
  Status loadKernels(std::vector<KernelFn> kernels) override;
  void launch(const Launch &launch) override;
  void synchronize() override {}

  ThreadPool &pool() { return pool_; }

private:
  std::unique_ptr<ThreadPool> ownedPool_;
  ThreadPool &pool_;
  std::vector<KernelFn> kernels_;
};

} // namespace kiln::runtime
