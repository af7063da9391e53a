#include "Executor.h"

#include "SystemMemory.h"
#include "gguf/GgufFile.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>

namespace kiln::runtime {

Result<std::unique_ptr<Executor>>
Executor::create(const ExecutionPlan &plan, std::vector<KernelFn> kernels,
                 const GgufFile &weights, ThreadPool &pool,
                 const ExecutorOptions &options) {
  if (kernels.size() != plan.kernelSymbols.size())
    return makeError("executor: ", std::to_string(kernels.size()),
                     " kernels for a plan that names ",
                     std::to_string(plan.kernelSymbols.size()));
  std::unique_ptr<Executor> exec(new Executor(pool));
  exec->maxBatch_ = options.maxBatch;
  exec->contextLength_ =
      options.contextLength > 0 ? options.contextLength : plan.contextLength;
  exec->vocabSize_ = plan.vocabSize;
  if (exec->maxBatch_ <= 0)
    return makeError("executor: the batch size must be positive");
  if (exec->contextLength_ > plan.contextLength)
    return makeError("context length ", std::to_string(exec->contextLength_),
                     " exceeds the model's ",
                     std::to_string(plan.contextLength));

  std::vector<const void *> weightPointers;
  for (const std::string &name : plan.weightNames) {
    const GgufTensorInfo *tensor = weights.findTensor(name);
    if (!tensor)
      return makeError(weights.source(), ": tensor '", name,
                       "' the plan needs is missing");
    weightPointers.push_back(weights.tensorData(*tensor).data());
  }

  exec->tokens_.assign(exec->maxBatch_, 0);
  auto memory = planMemory(plan, exec->maxBatch_);
  if (!memory)
    return std::move(memory).takeError();
  exec->memoryPlan_ = std::move(memory).value();
  uint64_t arenaBytes = exec->memoryPlan_.arenaBytes;
  if (arenaBytes > 0) {
    // aligned_alloc wants a multiple of the alignment: the planner's sizes are.
    exec->arena_.reset(std::aligned_alloc(kArenaAlignment, arenaBytes));
    if (!exec->arena_)
      return makeError("executor: cannot allocate the ",
                       std::to_string(arenaBytes), "-byte activation arena");
    std::memset(exec->arena_.get(), 0, arenaBytes);
  }
  auto *base = static_cast<uint8_t *>(exec->arena_.get());
  for (const BufferPlacement &buffer : exec->memoryPlan_.buffers)
    exec->buffers_.push_back(buffer.used() ? base + buffer.offset : nullptr);
  // One cache row per position of the context. A cache larger than the
  // machine's memory is refused before anything is allocated: the error
  // says how many positions would fit, instead of the process aborting.
  const uint64_t perPosition = kvBytesPerPosition(plan);
  const uint64_t machineBytes = physicalMemoryBytes();
  const uint64_t positions = uint64_t(exec->contextLength_);
  const uint64_t room = machineBytes - std::min(machineBytes, arenaBytes);
  if (machineBytes > 0 && perPosition > 0 && positions > room / perPosition)
    return makeError("the KV cache for ", std::to_string(positions), " positions needs ",
                     gibText(static_cast<long double>(perPosition) * positions),
                     ", more than this machine's ", gibText(machineBytes),
                     " of memory; at most ", std::to_string(room / perPosition),
                     " positions fit");
  size_t cacheBytes = static_cast<size_t>(exec->contextLength_ * plan.kvWidth) *
                      plan.kvElementBytes;
  for (int64_t layer = 0; layer < plan.numLayers; ++layer) {
    exec->keyCache_.emplace_back(new (std::nothrow) uint8_t[cacheBytes]());
    exec->valueCache_.emplace_back(new (std::nothrow) uint8_t[cacheBytes]());
    if (!exec->keyCache_.back() || !exec->valueCache_.back())
      return makeError("executor: cannot allocate the ",
                       gibText(static_cast<long double>(perPosition) * positions), " KV cache for ",
                       std::to_string(positions), " positions");
    exec->kvCacheBytes_ += 2 * cacheBytes;
  }
  exec->kernelSeconds_.assign(kernels.size(), 0.0);
  exec->kernelCalls_.assign(kernels.size(), 0);
  KILN_TRY(exec->prepare(plan.prefill, exec->prefill_, kernels, weightPointers));
  KILN_TRY(exec->prepare(plan.decode, exec->decode_, kernels, weightPointers));
  return exec;
}

uint64_t Executor::kvBytesPerPosition(const ExecutionPlan &plan) {
  return 2 * uint64_t(plan.numLayers) * uint64_t(plan.kvWidth) * plan.kvElementBytes;
}

Status Executor::prepare(const EntryPoint &entry, PreparedEntry &out,
                         const std::vector<KernelFn> &kernels,
                         const std::vector<const void *> &weights) {
  for (const Step &step : entry.steps) {
    if (step.kernel >= kernels.size())
      return makeError("plan step '", step.label, "' names a missing kernel");
    PreparedStep prepared{step.kernel, kernels[step.kernel], {}, step.tasks,
                          step.singleRow};
    for (const Slot &slot : step.args) {
      void *pointer = nullptr;
      auto check = [&](size_t count) {
        return slot.index < count;
      };
      bool valid = false;
      switch (slot.kind) {
      case SlotKind::Tokens:
        pointer = tokens_.data();
        valid = true;
        break;
      case SlotKind::Weight:
        valid = check(weights.size());
        if (valid)
          pointer = const_cast<void *>(weights[slot.index]);
        break;
      case SlotKind::Activation:
        valid = check(buffers_.size());
        if (valid)
          pointer = buffers_[slot.index];
        break;
      case SlotKind::KeyCache:
        valid = check(keyCache_.size());
        if (valid)
          pointer = keyCache_[slot.index].get();
        break;
      case SlotKind::ValueCache:
        valid = check(valueCache_.size());
        if (valid)
          pointer = valueCache_[slot.index].get();
        break;
      }
      if (!valid)
        return makeError("plan step '", step.label,
                         "' refers to a buffer that does not exist");
      prepared.args.push_back(pointer);
    }
    out.steps.push_back(std::move(prepared));
  }
  if (entry.logits >= buffers_.size())
    return makeError("plan's logits buffer does not exist");
  out.logits = static_cast<const float *>(buffers_[entry.logits]);
  out.allRows = entry.allRows;
  return Status::success();
}

Result<std::span<const float>> Executor::run(PreparedEntry &entry,
                                             std::span<const int32_t> tokens,
                                             int64_t position) {
  int64_t rows = static_cast<int64_t>(tokens.size());
  if (rows == 0)
    return makeError("no tokens to evaluate");
  if (rows > maxBatch_)
    return makeError(std::to_string(rows), " tokens exceed the batch size ",
                     std::to_string(maxBatch_));
  if (position < 0 || position + rows > contextLength_)
    return makeError("the context is full: positions ",
                     std::to_string(position), "..",
                     std::to_string(position + rows - 1), " exceed the ",
                     std::to_string(contextLength_), "-token context");
  for (int64_t i = 0; i < rows; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocabSize_)
      return makeError("token id ", std::to_string(tokens[i]),
                       " is outside the vocabulary (", std::to_string(vocabSize_),
                       " tokens)");
    tokens_[i] = tokens[i];
  }
  for (size_t index = 0; index < entry.steps.size(); ++index) {
    PreparedStep &step = entry.steps[index];
    struct Call {
      KernelFn fn;
      void *const *args;
      int64_t rows, position;
    } call{step.fn, step.args.data(), step.singleRow ? 1 : rows, position};
    int64_t tasks = step.tasks.fixed + step.tasks.perRow * call.rows;
    auto start = profiling_ ? std::chrono::steady_clock::now()
                            : std::chrono::steady_clock::time_point();
    // One captured reference: fits std::function's inline storage, so the
    // token loop does not allocate.
    pool_.parallelFor(tasks, [&call](int64_t begin, int64_t end, unsigned) {
      call.fn(call.args, call.rows, call.position, begin, end);
    });
    if (profiling_) {
      kernelSeconds_[step.kernel] += std::chrono::duration<double>(
          std::chrono::steady_clock::now() - start).count();
      ++kernelCalls_[step.kernel];
    }
    if (observer_)
      observer_(&entry == &decode_, index, call.args, call.rows);
  }
  size_t count = static_cast<size_t>((entry.allRows ? rows : 1) * vocabSize_);
  return std::span<const float>(entry.logits, count);
}

void Executor::setProfiling(bool on) {
  profiling_ = on;
  std::fill(kernelSeconds_.begin(), kernelSeconds_.end(), 0.0);
  std::fill(kernelCalls_.begin(), kernelCalls_.end(), 0);
}

Result<std::span<const float>> Executor::prefill(std::span<const int32_t> tokens,
                                                 int64_t position) {
  return run(prefill_, tokens, position);
}

Result<std::span<const float>> Executor::decode(int32_t token,
                                                int64_t position) {
  return run(decode_, std::span<const int32_t>(&token, 1), position);
}

} // namespace kiln::runtime
