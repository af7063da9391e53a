// Runs an execution plan: every buffer is allocated once when the executor
// is created (the activations in one arena laid out by the memory planner
// for the largest batch, the KV cache for the whole context); a forward pass
// is then the plan's kernel calls in order, each launched on the device
// (runtime/Device.h), with no allocation in the token loop.
#pragma once

#include "Device.h"
#include "ExecutionPlan.h"
#include "MemoryPlanner.h"
#include "runtime/cpu/ThreadPool.h"
#include "support/Result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace kiln {
class GgufFile;
}

namespace kiln::runtime {

struct ExecutorOptions {
  int64_t maxBatch = 256;    // tokens per prefill call
  int64_t contextLength = 0; // 0: the model's
  // Weights already in their plan layout (an AOT artifact's): entry i, if
  // not empty, is used for plan.weightNames[i] as it is, instead of the
  // GGUF's tensor (repacked when its layout asks). Must outlive the
  // executor.
  std::vector<std::span<const uint8_t>> laidOutWeights;
};

class Executor {
public:
  // `weights` must outlive the executor; `device` holds the plan's kernels
  // (as the target that compiled them made it, e.g. KernelModule::createDevice).
  static Result<std::unique_ptr<Executor>>
  create(const ExecutionPlan &plan, std::unique_ptr<Device> device,
         const GgufFile &weights, const ExecutorOptions &options = {});
  ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  // Evaluates tokens at positions [position, position + n) and returns the
  // logits: one row (the last token's) or n rows when the plan computes all.
  // They stay valid until the next prefill or decode call (the arena is
  // shared by both).
  Result<std::span<const float>> prefill(std::span<const int32_t> tokens,
                                         int64_t position);
  // One token at `position`; returns its logits.
  Result<std::span<const float>> decode(int32_t token, int64_t position);

  int64_t contextLength() const { return contextLength_; }
  int64_t maxBatch() const { return maxBatch_; }
  int64_t vocabSize() const { return vocabSize_; }
  bool prefillReturnsAllRows() const { return prefill_.allRows; }
  // When on, each kernel call is timed; profile() sums seconds per kernel
  // symbol index (plan.kernelSymbols) over the calls since it was reset.
  void setProfiling(bool on);
  const std::vector<double> &profile() const { return kernelSeconds_; }
  const std::vector<uint64_t> &profileCalls() const { return kernelCalls_; }

  // Called after every kernel call with the entry point (decode or
  // prefill), the step's index in it, its argument pointers (in the order
  // of the plan's Step::args) and its rows: for dumping intermediates when
  // comparing numerics with another implementation. Empty: none.
  // The pointers are device pointers: read through hostView.
  using StepObserver = std::function<void(bool decode, size_t step, void *const *args,
                                          int64_t rows)>;
  void setStepObserver(StepObserver observer) { observer_ = std::move(observer); }
  // `bytes` of device memory at `devicePointer` (a step argument) as the
  // host sees them: in place on the CPU, else copied into a scratch buffer
  // valid until the next hostView call; null when the copy failed.
  const void *hostView(const void *devicePointer, uint64_t bytes);
  const Device &device() const { return *device_; }

  // Bytes of the activation arena and of the KV cache; memoryPlan() has
  // each buffer's lifetime and offset, and the bytes without reuse.
  uint64_t activationBytes() const { return memoryPlan_.arenaBytes; }
  const MemoryPlan &memoryPlan() const { return memoryPlan_; }
  uint64_t kvCacheBytes() const { return kvCacheBytes_; }
  // Bytes the KV cache takes for each position of the context (K and V,
  // every layer): what a context of n positions costs before it is
  // allocated.
  static uint64_t kvBytesPerPosition(const ExecutionPlan &plan);
  // The most positions whose KV cache fits in this machine's memory beside
  // `otherBytes` (the activation arena); UINT64_MAX when the machine's
  // memory is unknown or the plan has no cache.
  static uint64_t kvPositionsThatFit(const ExecutionPlan &plan, uint64_t otherBytes);

private:
  struct PreparedStep {
    uint32_t kernel;
    std::vector<void *> args;
    bool singleRow;
  };
  struct PreparedEntry {
    std::vector<PreparedStep> steps;
    const float *logits = nullptr;
    bool allRows = false;
  };

  explicit Executor(std::unique_ptr<Device> device) : device_(std::move(device)) {}
  Status prepare(const EntryPoint &entry, PreparedEntry &out, size_t kernelCount,
                 const std::vector<const void *> &weights);
  Result<std::span<const float>> run(PreparedEntry &entry,
                                     std::span<const int32_t> tokens,
                                     int64_t position);

  std::unique_ptr<Device> device_;
  int64_t maxBatch_ = 0, contextLength_ = 0, vocabSize_ = 0;
  uint64_t kvCacheBytes_ = 0;
  std::vector<int32_t> tokens_;
  // Not host addressable devices: the ids are copied here per call, the
  // logits copied back into hostLogits_.
  void *deviceTokens_ = nullptr;
  std::vector<float> hostLogits_;
  std::vector<uint8_t> scratch_;
  // Weights in another layout than the file's (ExecutionPlan::weightLayouts).
  std::vector<WeightBuffer> repackedWeights_;
  MemoryPlan memoryPlan_;
  // Device memory, released by the destructor.
  void *arena_ = nullptr;
  std::vector<void *> buffers_; // into arena_
  std::vector<void *> keyCache_, valueCache_;
  PreparedEntry prefill_, decode_;
  bool profiling_ = false;
  StepObserver observer_;
  std::vector<double> kernelSeconds_;
  std::vector<uint64_t> kernelCalls_;
};

} // namespace kiln::runtime
