#include "runtime/Executor.h"

#include "gguf/GgufFile.h"
#include "runtime/SystemMemory.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace kiln::runtime {

Executor::~Executor() {
  // Null where an allocation failed and create gave up.
  for (void *buffer : keyCache_)
    if (buffer)
      device_->release(buffer);
  for (void *buffer : valueCache_)
    if (buffer)
      device_->release(buffer);
  if (arena_)
    device_->release(arena_);
  if (deviceTokens_)
    device_->release(deviceTokens_);
}

Result<std::unique_ptr<Executor>>
Executor::create(const ExecutionPlan &plan, std::unique_ptr<Device> device,
                 const GgufFile &weights, const ExecutorOptions &options) {
  const size_t kernelCount = device->kernelCount();
  if (kernelCount != plan.kernelSymbols.size())
    return makeError("executor: ", std::to_string(kernelCount),
                     " kernels for a plan that names ",
                     std::to_string(plan.kernelSymbols.size()));
  std::unique_ptr<Executor> exec(new Executor(std::move(device)));
  Device &dev = *exec->device_;
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

  auto layoutOf = [&](size_t i) {
    return i < plan.weightLayouts.size() ? plan.weightLayouts[i] : WeightLayout::Gguf;
  };
  // Tensors some kernel reads in the file's layout: their pages stay.
  std::set<std::string_view> readInPlace;
  for (size_t i = 0; i < plan.weightNames.size(); ++i)
    if (layoutOf(i) == WeightLayout::Gguf)
      readInPlace.insert(plan.weightNames[i]);
  if (options.laidOutWeights.size() > plan.weightNames.size())
    return makeError("executor: ", std::to_string(options.laidOutWeights.size()),
                     " laid-out weights for a plan of ",
                     std::to_string(plan.weightNames.size()));
  std::vector<const void *> weightPointers;
  for (size_t i = 0; i < plan.weightNames.size(); ++i) {
    const std::string &name = plan.weightNames[i];
    if (i < options.laidOutWeights.size() && !options.laidOutWeights[i].empty()) {
      auto onDevice = dev.upload(options.laidOutWeights[i]);
      if (!onDevice)
        return std::move(onDevice).takeError();
      weightPointers.push_back(onDevice.value());
      continue;
    }
    const GgufTensorInfo *tensor = weights.findTensor(name);
    if (!tensor)
      return makeError(weights.source(), ": tensor '", name,
                       "' the plan needs is missing");
    std::span<const uint8_t> data = weights.tensorData(*tensor);
    const WeightLayout layout = layoutOf(i);
    if (layout != WeightLayout::Gguf) {
      // Reordered once, here; the device reads the copy (kept while the
      // executor lives: the CPU device reads it in place).
      const int64_t rows = tensor->dims.size() > 1 ? tensor->dims[1] : 1;
      auto packed = repackWeight(layout, tensor->type, data, rows,
                                 tensor->dims.empty() ? 0 : tensor->dims[0]);
      if (!packed)
        return makeError(weights.source(), ": tensor '", name, "': ",
                         packed.error().message);
      exec->repackedWeights_.push_back(std::move(packed).value());
      data = exec->repackedWeights_.back();
      // Only the copy is read from now on: the file's pages need not stay
      // resident beside it (peak memory stays one copy of the weights).
      if (!readInPlace.count(name))
        weights.releaseTensorPages(*tensor);
    }
    auto onDevice = dev.upload(data);
    if (!onDevice)
      return std::move(onDevice).takeError();
    weightPointers.push_back(onDevice.value());
  }

  exec->tokens_.assign(exec->maxBatch_, 0);
  if (!dev.hostAddressable()) {
    exec->deviceTokens_ = dev.allocate(uint64_t(exec->maxBatch_) * sizeof(int32_t));
    if (!exec->deviceTokens_)
      return makeError("executor: cannot allocate the token ids on the ", dev.name(),
                       " device");
  }
  auto memory = planMemory(plan, exec->maxBatch_);
  if (!memory)
    return std::move(memory).takeError();
  exec->memoryPlan_ = std::move(memory).value();
  uint64_t arenaBytes = exec->memoryPlan_.arenaBytes;
  if (arenaBytes > 0) {
    exec->arena_ = dev.allocate(arenaBytes);
    if (!exec->arena_)
      return makeError("executor: cannot allocate the ",
                       std::to_string(arenaBytes), "-byte activation arena");
  }
  auto *base = static_cast<uint8_t *>(exec->arena_);
  for (const BufferPlacement &buffer : exec->memoryPlan_.buffers)
    exec->buffers_.push_back(buffer.used() ? base + buffer.offset : nullptr);
  // One cache row per position of the context. A cache larger than the
  // machine's memory is refused before anything is allocated: the error
  // says how many positions would fit, instead of the process aborting.
  const uint64_t perPosition = kvBytesPerPosition(plan);
  const uint64_t positions = uint64_t(exec->contextLength_);
  if (uint64_t fit = kvPositionsThatFit(plan, arenaBytes); positions > fit)
    return makeError("the KV cache for ", std::to_string(positions), " positions needs ",
                     gibText(static_cast<long double>(perPosition) * positions),
                     ", more than this machine's ", gibText(physicalMemoryBytes()),
                     " of memory; at most ", std::to_string(fit), " positions fit");
  size_t cacheBytes = static_cast<size_t>(exec->contextLength_ * plan.kvWidth) *
                      plan.kvElementBytes;
  for (int64_t layer = 0; layer < plan.numLayers; ++layer) {
    // Pushed even when null, so the destructor's release sees every one.
    exec->keyCache_.push_back(dev.allocate(cacheBytes));
    exec->valueCache_.push_back(dev.allocate(cacheBytes));
    if (!exec->keyCache_.back() || !exec->valueCache_.back())
      return makeError("executor: cannot allocate the ",
                       gibText(static_cast<long double>(perPosition) * positions), " KV cache for ",
                       std::to_string(positions), " positions");
    exec->kvCacheBytes_ += 2 * cacheBytes;
  }
  exec->kernelSeconds_.assign(kernelCount, 0.0);
  exec->kernelCalls_.assign(kernelCount, 0);
  KILN_TRY(exec->prepare(plan.prefill, exec->prefill_, kernelCount, weightPointers));
  KILN_TRY(exec->prepare(plan.decode, exec->decode_, kernelCount, weightPointers));
  return exec;
}

uint64_t Executor::kvPositionsThatFit(const ExecutionPlan &plan, uint64_t otherBytes) {
  const uint64_t perPosition = kvBytesPerPosition(plan);
  const uint64_t machineBytes = physicalMemoryBytes();
  if (machineBytes == 0 || perPosition == 0)
    return UINT64_MAX;
  return (machineBytes - std::min(machineBytes, otherBytes)) / perPosition;
}

uint64_t Executor::kvBytesPerPosition(const ExecutionPlan &plan) {
  return 2 * uint64_t(plan.numLayers) * uint64_t(plan.kvWidth) * plan.kvElementBytes;
}

Status Executor::prepare(const EntryPoint &entry, PreparedEntry &out, size_t kernelCount,
                         const std::vector<const void *> &weights) {
  for (const Step &step : entry.steps) {
    if (step.kernel >= kernelCount)
      return makeError("plan step '", step.label, "' names a missing kernel");
    PreparedStep prepared{step.kernel, {}, step.singleRow};
    for (const Slot &slot : step.args) {
      void *pointer = nullptr;
      auto check = [&](size_t count) {
        return slot.index < count;
      };
      bool valid = false;
      switch (slot.kind) {
      case SlotKind::Tokens:
        pointer = deviceTokens_ ? deviceTokens_ : tokens_.data();
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
          pointer = keyCache_[slot.index];
        break;
      case SlotKind::ValueCache:
        valid = check(valueCache_.size());
        if (valid)
          pointer = valueCache_[slot.index];
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
  if (deviceTokens_)
    KILN_TRY(device_->write(deviceTokens_, tokens_.data(), uint64_t(rows) * sizeof(int32_t)));
  for (size_t index = 0; index < entry.steps.size(); ++index) {
    PreparedStep &step = entry.steps[index];
    Launch launch;
    launch.kernel = step.kernel;
    launch.args = step.args.data();
    launch.rows = step.singleRow ? 1 : rows;
    launch.position = position;
    auto start = profiling_ ? std::chrono::steady_clock::now()
                            : std::chrono::steady_clock::time_point();
    device_->launch(launch);
    // A kernel's time, and an observer's view of its outputs, need it
    // finished.
    if (profiling_ || observer_)
      KILN_TRY(device_->synchronize());
    if (profiling_) {
      kernelSeconds_[step.kernel] += std::chrono::duration<double>(
          std::chrono::steady_clock::now() - start).count();
      ++kernelCalls_[step.kernel];
    }
    if (observer_)
      observer_(&entry == &decode_, index, launch.args, launch.rows);
  }
  KILN_TRY(device_->synchronize());
  size_t count = static_cast<size_t>((entry.allRows ? rows : 1) * vocabSize_);
  if (device_->hostAddressable())
    return std::span<const float>(entry.logits, count);
  hostLogits_.resize(count);
  KILN_TRY(device_->read(entry.logits, hostLogits_.data(), count * sizeof(float)));
  return std::span<const float>(hostLogits_.data(), count);
}

const void *Executor::hostView(const void *devicePointer, uint64_t bytes) {
  if (device_->hostAddressable())
    return devicePointer;
  scratch_.resize(bytes);
  if (!device_->read(devicePointer, scratch_.data(), bytes).ok())
    return nullptr;
  return scratch_.data();
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
