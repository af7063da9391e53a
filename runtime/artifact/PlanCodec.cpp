#include "runtime/artifact/PlanCodec.h"

#include "runtime/artifact/ByteCodec.h"

namespace kiln::runtime::artifact {

namespace {

void encodeEntry(ByteWriter &w, const EntryPoint &entry) {
  w.u64(entry.steps.size());
  for (const Step &step : entry.steps) {
    w.u32(step.kernel);
    w.u8(step.singleRow ? 1 : 0);
    w.string(step.label);
    w.u64(step.args.size());
    for (const Slot &slot : step.args) {
      w.u8(uint8_t(slot.kind));
      w.u32(slot.index);
    }
  }
  w.u32(entry.logits);
  w.u8(entry.allRows ? 1 : 0);
}

Status checkSlot(ByteReader &r, const ExecutionPlan &plan, const Slot &slot) {
  uint64_t limit = 0;
  switch (slot.kind) {
  case SlotKind::Tokens: return Status::success();
  case SlotKind::Weight: limit = plan.weightNames.size(); break;
  case SlotKind::Activation: limit = plan.buffers.size(); break;
  case SlotKind::KeyCache:
  case SlotKind::ValueCache: limit = uint64_t(plan.numLayers); break;
  }
  if (slot.index >= limit)
    return r.fail("step argument", "index " + std::to_string(slot.index) + " of " +
                                       std::to_string(limit));
  return Status::success();
}

Result<EntryPoint> decodeEntry(ByteReader &r, const ExecutionPlan &plan) {
  EntryPoint entry;
  uint64_t steps = 0;
  KILN_READ(steps, r.count("steps", 18));
  for (uint64_t i = 0; i < steps; ++i) {
    Step step;
    KILN_READ(step.kernel, r.u32("step kernel"));
    if (step.kernel >= plan.kernelSymbols.size())
      return r.fail("step kernel", "kernel " + std::to_string(step.kernel) + " of " +
                                       std::to_string(plan.kernelSymbols.size()));
    uint8_t single = 0;
    KILN_READ(single, r.u8("step single row"));
    step.singleRow = single != 0;
    KILN_READ(step.label, r.string("step label"));
    uint64_t args = 0;
    KILN_READ(args, r.count("step arguments", 5));
    for (uint64_t a = 0; a < args; ++a) {
      uint8_t kind = 0;
      Slot slot{SlotKind::Tokens};
      KILN_READ(kind, r.u8("argument kind"));
      if (kind > uint8_t(SlotKind::ValueCache))
        return r.fail("argument kind", "unknown kind " + std::to_string(kind));
      slot.kind = SlotKind(kind);
      KILN_READ(slot.index, r.u32("argument index"));
      if (Status s = checkSlot(r, plan, slot); !s)
        return std::move(s).takeError();
      step.args.push_back(slot);
    }
    entry.steps.push_back(std::move(step));
  }
  KILN_READ(entry.logits, r.u32("logits buffer"));
  if (entry.logits >= plan.buffers.size())
    return r.fail("logits buffer", "buffer " + std::to_string(entry.logits) + " of " +
                                       std::to_string(plan.buffers.size()));
  uint8_t allRows = 0;
  KILN_READ(allRows, r.u8("all rows"));
  entry.allRows = allRows != 0;
  return entry;
}

} // namespace

std::vector<uint8_t> encodePlan(const ExecutionPlan &plan) {
  ByteWriter w;
  w.u64(plan.kernelSymbols.size());
  for (const std::string &symbol : plan.kernelSymbols)
    w.string(symbol);
  w.u64(plan.weightNames.size());
  for (size_t i = 0; i < plan.weightNames.size(); ++i) {
    w.string(plan.weightNames[i]);
    w.u8(uint8_t(i < plan.weightLayouts.size() ? plan.weightLayouts[i] : WeightLayout::Gguf));
  }
  w.u64(plan.buffers.size());
  for (const ActivationBuffer &buffer : plan.buffers) {
    w.i64(buffer.cols);
    w.u32(buffer.elementBytes);
    w.u8(buffer.singleRow ? 1 : 0);
    w.u8(buffer.holdsFloats ? 1 : 0);
  }
  w.i64(plan.numLayers);
  w.i64(plan.kvWidth);
  w.u32(plan.kvElementBytes);
  w.i64(plan.contextLength);
  w.i64(plan.vocabSize);
  encodeEntry(w, plan.prefill);
  encodeEntry(w, plan.decode);
  return w.take();
}

Result<ExecutionPlan> decodePlan(std::span<const uint8_t> bytes, const std::string &where) {
  ByteReader r(bytes, where);
  ExecutionPlan plan;
  uint64_t n = 0;
  KILN_READ(n, r.count("kernels", 8));
  for (uint64_t i = 0; i < n; ++i) {
    std::string symbol;
    KILN_READ(symbol, r.string("kernel symbol"));
    plan.kernelSymbols.push_back(std::move(symbol));
  }
  KILN_READ(n, r.count("weights", 9));
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    uint8_t layout = 0;
    KILN_READ(name, r.string("weight name"));
    KILN_READ(layout, r.u8("weight layout"));
    if (layout > uint8_t(WeightLayout::Q8_0x16))
      return r.fail("weight layout", "unknown layout " + std::to_string(layout));
    plan.weightNames.push_back(std::move(name));
    plan.weightLayouts.push_back(WeightLayout(layout));
  }
  KILN_READ(n, r.count("buffers", 14));
  for (uint64_t i = 0; i < n; ++i) {
    ActivationBuffer buffer;
    uint8_t flag = 0;
    KILN_READ(buffer.cols, r.i64("buffer columns"));
    KILN_READ(buffer.elementBytes, r.u32("buffer element bytes"));
    if (buffer.cols < 0 || buffer.elementBytes == 0 || buffer.elementBytes > 8)
      return r.fail("buffer", std::to_string(buffer.cols) + " columns of " +
                                  std::to_string(buffer.elementBytes) + " bytes");
    KILN_READ(flag, r.u8("buffer single row"));
    buffer.singleRow = flag != 0;
    KILN_READ(flag, r.u8("buffer holds floats"));
    buffer.holdsFloats = flag != 0;
    plan.buffers.push_back(buffer);
  }
  KILN_READ(plan.numLayers, r.i64("layers"));
  KILN_READ(plan.kvWidth, r.i64("KV width"));
  KILN_READ(plan.kvElementBytes, r.u32("KV element bytes"));
  KILN_READ(plan.contextLength, r.i64("context length"));
  KILN_READ(plan.vocabSize, r.i64("vocabulary size"));
  if (plan.numLayers < 0 || plan.kvWidth < 0 || plan.contextLength <= 0 ||
      plan.vocabSize <= 0 || (plan.kvElementBytes != 2 && plan.kvElementBytes != 4))
    return r.fail("model sizes", "layers " + std::to_string(plan.numLayers) + ", KV width " +
                                     std::to_string(plan.kvWidth) + ", context " +
                                     std::to_string(plan.contextLength) + ", vocabulary " +
                                     std::to_string(plan.vocabSize));
  auto prefill = decodeEntry(r, plan);
  if (!prefill)
    return prefill.error();
  plan.prefill = std::move(prefill).value();
  auto decode = decodeEntry(r, plan);
  if (!decode)
    return decode.error();
  plan.decode = std::move(decode).value();
  if (r.left() != 0)
    return r.fail("end", std::to_string(r.left()) + " bytes past the plan");
  return plan;
}

std::vector<uint8_t> encodeTaskCounts(const std::vector<TaskCount> &tasks) {
  ByteWriter w;
  w.u64(tasks.size());
  for (const TaskCount &t : tasks) {
    w.i64(t.fixed);
    w.i64(t.perRow);
  }
  return w.take();
}

Result<std::vector<TaskCount>> decodeTaskCounts(std::span<const uint8_t> bytes,
                                                size_t kernels, const std::string &where) {
  ByteReader r(bytes, where);
  uint64_t n = 0;
  KILN_READ(n, r.count("task counts", 16));
  if (n != kernels)
    return r.fail("task counts", std::to_string(n) + " for a plan of " +
                                     std::to_string(kernels) + " kernels");
  std::vector<TaskCount> tasks(n);
  for (TaskCount &t : tasks) {
    KILN_READ(t.fixed, r.i64("fixed tasks"));
    KILN_READ(t.perRow, r.i64("tasks per row"));
    if (t.fixed < 0 || t.perRow < 0 || (t.fixed == 0 && t.perRow == 0))
      return r.fail("task count", std::to_string(t.fixed) + " + " +
                                      std::to_string(t.perRow) + " per row");
  }
  return tasks;
}

} // namespace kiln::runtime::artifact

namespace kiln::runtime::artifact {

std::vector<uint8_t> encodeOpenClModule(const opencl::OpenClModule &module) {
  ByteWriter w;
  w.string(module.source);
  w.string(module.buildOptions);
  w.u64(module.kernels.size());
  for (const opencl::KernelEntry &k : module.kernels) {
    w.string(k.name);
    w.u32(k.argCount);
    w.u32(k.launch.local);
    w.i64(k.launch.groups);
    w.u8(k.launch.perRow ? 1 : 0);
  }
  return w.take();
}

Result<opencl::OpenClModule> decodeOpenClModule(std::span<const uint8_t> bytes,
                                                const std::vector<std::string> &symbols,
                                                const std::string &where) {
  ByteReader r(bytes, where);
  opencl::OpenClModule module;
  KILN_READ(module.source, r.string("source"));
  KILN_READ(module.buildOptions, r.string("build options"));
  uint64_t n = 0;
  KILN_READ(n, r.count("kernels", 8 + 4 + 4 + 8 + 1));
  if (n != symbols.size())
    return r.fail("kernels", std::to_string(n) + " for a plan of " +
                                 std::to_string(symbols.size()) + " kernels");
  module.kernels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    opencl::KernelEntry &k = module.kernels[i];
    KILN_READ(k.name, r.string("kernel name"));
    if (k.name != symbols[i])
      return r.fail("kernel name", "'" + k.name + "' where the plan names '" + symbols[i] + "'");
    KILN_READ(k.argCount, r.u32("argument count"));
    KILN_READ(k.launch.local, r.u32("work-group size"));
    KILN_READ(k.launch.groups, r.i64("work-groups"));
    uint8_t perRow = 0;
    KILN_READ(perRow, r.u8("per row"));
    if (k.launch.local == 0 || k.launch.groups <= 0 || perRow > 1)
      return r.fail("launch", "kernel '" + k.name + "': " + std::to_string(k.launch.local) +
                                  " work-items by " + std::to_string(k.launch.groups) +
                                  " groups, per row " + std::to_string(perRow));
    k.launch.perRow = perRow == 1;
  }
  if (r.left() != 0)
    return r.fail("end", std::to_string(r.left()) + " bytes after the last kernel");
  return module;
}

std::vector<uint8_t> encodeCudaModule(const cuda::CudaModule &module) {
  ByteWriter w;
  w.string(module.ptx);
  w.string(module.arch);
  w.u64(module.kernels.size());
  for (const cuda::CudaKernelEntry &k : module.kernels) {
    w.string(k.name);
    w.u32(k.argCount);
    w.i64(k.tasks.fixed);
    w.i64(k.tasks.perRow);
    w.u32(k.blockSize);
  }
  return w.take();
}

Result<cuda::CudaModule> decodeCudaModule(std::span<const uint8_t> bytes,
                                          const std::vector<std::string> &symbols,
                                          const std::string &where) {
  ByteReader r(bytes, where);
  cuda::CudaModule module;
  KILN_READ(module.ptx, r.string("ptx"));
  KILN_READ(module.arch, r.string("arch"));
  if (cuda::smVersion(module.arch) == 0)
    return r.fail("arch", "'" + module.arch + "' is not an sm_XY architecture");
  uint64_t n = 0;
  KILN_READ(n, r.count("kernels", 8 + 4 + 8 + 8 + 4));
  if (n != symbols.size())
    return r.fail("kernels", std::to_string(n) + " for a plan of " +
                                 std::to_string(symbols.size()) + " kernels");
  module.kernels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    cuda::CudaKernelEntry &k = module.kernels[i];
    KILN_READ(k.name, r.string("kernel name"));
    if (k.name != symbols[i])
      return r.fail("kernel name", "'" + k.name + "' where the plan names '" + symbols[i] + "'");
    KILN_READ(k.argCount, r.u32("argument count"));
    KILN_READ(k.tasks.fixed, r.i64("fixed tasks"));
    KILN_READ(k.tasks.perRow, r.i64("tasks per row"));
    KILN_READ(k.blockSize, r.u32("block size"));
    // The device limits a block to 1024 threads; a task count the grid
    // cannot hold is a corrupt entry.
    if (k.blockSize == 0 || k.blockSize > 1024 || k.argCount > 4096 || k.tasks.fixed < 0 ||
        k.tasks.perRow < 0 || k.tasks.fixed > (int64_t(1) << 31) ||
        k.tasks.perRow > (int64_t(1) << 20))
      return r.fail("launch", "kernel '" + k.name + "': blocks of " +
                                  std::to_string(k.blockSize) + ", " +
                                  std::to_string(k.argCount) + " arguments, tasks " +
                                  std::to_string(k.tasks.fixed) + " + " +
                                  std::to_string(k.tasks.perRow) + " per row");
  }
  if (r.left() != 0)
    return r.fail("end", std::to_string(r.left()) + " bytes after the last kernel");
  return module;
}

} // namespace kiln::runtime::artifact
