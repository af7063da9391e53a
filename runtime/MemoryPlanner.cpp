#include "MemoryPlanner.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace kiln::runtime {

namespace {

uint64_t alignUp(uint64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

bool rangesOverlap(const std::optional<LiveRange> &a,
                   const std::optional<LiveRange> &b) {
  return a && b && a->first <= b->last && b->first <= a->last;
}

void extend(std::optional<LiveRange> &range, uint32_t at) {
  if (!range)
    range = LiveRange{at, at};
  range->first = std::min(range->first, at);
  range->last = std::max(range->last, at);
}

// Each activation buffer's live range over one entry point's steps.
Status analyse(const EntryPoint &entry, const char *name, MemoryPlan &out,
               std::optional<LiveRange> BufferPlacement::*range) {
  for (uint32_t index = 0; index < entry.steps.size(); ++index) {
    const Step &step = entry.steps[index];
    for (size_t arg = 0; arg < step.args.size(); ++arg) {
      const Slot &slot = step.args[arg];
      if (slot.kind != SlotKind::Activation)
        continue;
      if (slot.index >= out.buffers.size())
        return makeError("plan: ", name, " step ", std::to_string(index), " ('",
                         step.label, "') argument ", std::to_string(arg),
                         " names activation buffer ", std::to_string(slot.index),
                         " of ", std::to_string(out.buffers.size()));
      extend(out.buffers[slot.index].*range, index);
    }
  }
  // The caller reads the logits after the call: live to the end and past it.
  if (entry.steps.empty())
    return Status::success();
  if (entry.logits >= out.buffers.size())
    return makeError("plan: ", name, " returns activation buffer ",
                     std::to_string(entry.logits), " of ",
                     std::to_string(out.buffers.size()));
  extend(out.buffers[entry.logits].*range,
         static_cast<uint32_t>(entry.steps.size()));
  return Status::success();
}

} // namespace

bool livesOverlap(const BufferPlacement &a, const BufferPlacement &b) {
  return rangesOverlap(a.prefill, b.prefill) || rangesOverlap(a.decode, b.decode);
}

Result<MemoryPlan> planMemory(const ExecutionPlan &plan, int64_t maxBatch) {
  if (maxBatch <= 0)
    return makeError("memory plan: the batch size must be positive, not ",
                     std::to_string(maxBatch));
  MemoryPlan out;
  out.buffers.resize(plan.buffers.size());
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const ActivationBuffer &buffer = plan.buffers[i];
    if (buffer.cols < 0 || buffer.elementBytes == 0)
      return makeError("plan: activation buffer ", std::to_string(i), " has ",
                       std::to_string(buffer.cols), " columns of ",
                       std::to_string(buffer.elementBytes), " bytes");
    uint64_t rows = buffer.singleRow ? 1 : static_cast<uint64_t>(maxBatch);
    out.buffers[i].bytes =
        alignUp(rows * static_cast<uint64_t>(buffer.cols) * buffer.elementBytes);
    out.unsharedBytes += out.buffers[i].bytes;
  }
  KILN_TRY(analyse(plan.prefill, "prefill", out, &BufferPlacement::prefill));
  KILN_TRY(analyse(plan.decode, "decode", out, &BufferPlacement::decode));

  // Largest first (ties in plan order), each at the lowest offset where it
  // overlaps no placed buffer that is live at the same time (first fit).
  std::vector<uint32_t> order(out.buffers.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (out.buffers[a].bytes != out.buffers[b].bytes)
      return out.buffers[a].bytes > out.buffers[b].bytes;
    return a < b;
  });
  std::vector<uint32_t> placed;
  for (uint32_t index : order) {
    BufferPlacement &buffer = out.buffers[index];
    if (!buffer.used() || buffer.bytes == 0)
      continue; // no steps touch it: it needs no memory
    std::vector<const BufferPlacement *> taken;
    for (uint32_t other : placed)
      if (livesOverlap(buffer, out.buffers[other]))
        taken.push_back(&out.buffers[other]);
    std::sort(taken.begin(), taken.end(),
              [](const BufferPlacement *a, const BufferPlacement *b) {
                return a->offset < b->offset;
              });
    uint64_t offset = 0;
    for (const BufferPlacement *other : taken) {
      if (other->offset >= offset + buffer.bytes)
        break; // the gap before `other` fits
      offset = std::max(offset, other->offset + other->bytes);
    }
    buffer.offset = offset;
    out.arenaBytes = std::max(out.arenaBytes, offset + buffer.bytes);
    placed.push_back(index);
  }
  return out;
}

} // namespace kiln::runtime
