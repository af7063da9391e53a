// A CUDA GPU as the executor's Device: memory from cuMemAlloc (device
// pointers the executor offsets like host ones, never dereferenced on the
// host), weights copied to the GPU once, synchronize cuStreamSynchronize.
//
// Launches are collected until the step ends (synchronize, or a copy) and
// then issued on the context's stream. A step that repeats the one before
// it (the same kernels, arguments and rows: every decode token after the
// first) is captured once as a CUDA graph and replayed from then on, with
// the position the kernels read (CudaModule.h's kiln_position) copied in
// as the graph's first node. KILN_CUDA_GRAPHS=0 launches every kernel.
#pragma once

#include "runtime/Device.h"
#include "runtime/cuda/CudaProgram.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

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

  // Steps replayed from a captured graph so far (for tests and timings).
  uint64_t graphReplays() const { return graphReplays_; }

private:
  struct PendingLaunch {
    uint32_t kernel = 0;
    uint32_t firstArg = 0; // into Step::args
    uint32_t argCount = 0;
    int64_t rows = 0;
    int64_t position = 0;
  };
  // The launches of one step; cleared, never freed, between steps.
  struct Step {
    std::vector<PendingLaunch> launches;
    std::vector<CUdeviceptr> args;
    void clear() {
      launches.clear();
      args.clear();
    }
  };
  // The same kernels with the same arguments and rows (positions aside).
  static bool sameStep(const Step &a, const Step &b);

  Status check(CUresult result, const std::string &what) const;
  // Issues the pending launches: a graph replay when the step was captured
  // (or repeats the last one and is captured now), else one by one.
  Status flush();
  Status launchEagerly(const Step &step);
  Status enqueue(const Step &step, const PendingLaunch &launch);
  // An asynchronous copy of `position` into the module's global, from a
  // pinned slot that stays untouched until the stream has synchronized.
  Status copyPosition(int64_t position);
  Status capture(const Step &step);
  void dropGraph();

  std::shared_ptr<CudaProgram> program_;
  std::set<CUdeviceptr> allocations_;
  std::string error_; // the first failure since the last synchronize
  Step pending_, previous_, captured_;
  CUgraph graph_ = nullptr;
  CUgraphExec graphExec_ = nullptr;
  bool graphs_ = true;
  bool busy_ = false; // work issued since the stream last synchronized
  int64_t *pinned_ = nullptr; // slot 0: the graph's position; then the eager copies'
  size_t nextSlot_ = 1;
  uint64_t graphReplays_ = 0;
};

} // namespace kiln::runtime::cuda
