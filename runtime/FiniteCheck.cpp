#include "FiniteCheck.h"

#include "Executor.h"

#include <cmath>

namespace kiln::runtime {

std::optional<NonFiniteValue> findNonFinite(std::span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      return NonFiniteValue{i, values[i]};
  return std::nullopt;
}

std::string nonFiniteText(float value) {
  if (std::isnan(value))
    return "nan";
  return value > 0 ? "inf" : "-inf";
}

// ", reading blk.1.ffn_down.weight": the weights a step reads are the
// usual culprits.
static std::string weightsRead(const ExecutionPlan &plan, const Step &step) {
  std::string names;
  for (const Slot &slot : step.args)
    if (slot.kind == SlotKind::Weight && slot.index < plan.weightNames.size())
      names += (names.empty() ? ", reading " : ", ") + plan.weightNames[slot.index];
  return names;
}

std::string locateNonFinite(Executor &executor, const ExecutionPlan &plan,
                            const std::function<void()> &replay) {
  std::string found;
  executor.setStepObserver([&](bool decode, size_t index, void *const *args,
                               int64_t rows) {
    if (!found.empty())
      return;
    const EntryPoint &entry = decode ? plan.decode : plan.prefill;
    const Step &step = entry.steps[index];
    const Slot &out = step.args.back();
    if (out.kind != SlotKind::Activation)
      return;
    const ActivationBuffer &buffer = plan.buffers[out.index];
    if (!buffer.holdsFloats || buffer.elementBytes != sizeof(float))
      return;
    int64_t outRows = buffer.singleRow ? 1 : rows;
    const size_t count = size_t(outRows * buffer.cols);
    const void *view = executor.hostView(args[step.args.size() - 1], count * sizeof(float));
    if (!view) {
      found = "a step whose output could not be read back from the device";
      return;
    }
    std::span<const float> values(static_cast<const float *>(view), count);
    if (auto bad = findNonFinite(values)) {
      size_t cols = size_t(buffer.cols > 0 ? buffer.cols : 1);
      found = std::string(decode ? "decode" : "prefill") + " step " +
              std::to_string(index) + " '" + step.label + "' (row " +
              std::to_string(bad->index / cols) + ", column " +
              std::to_string(bad->index % cols) + ": " + nonFiniteText(bad->value) +
              ")" + weightsRead(plan, step);
    }
  });
  replay();
  executor.setStepObserver({});
  return found.empty() ? "no kernel output (the logits only)" : found;
}

Status checkLogitsFinite(Executor &executor, const ExecutionPlan &plan,
                         std::span<const float> logits, const std::string &source,
                         const std::string &what, const std::function<void()> &replay) {
  auto bad = findNonFinite(logits);
  if (!bad)
    return Status::success();
  size_t vocab = size_t(executor.vocabSize() > 0 ? executor.vocabSize() : 1);
  std::string first = locateNonFinite(executor, plan, replay);
  return makeError(source, ": the logits of ", what, " are not finite (",
                   nonFiniteText(bad->value), " for token id ",
                   std::to_string(bad->index % vocab),
                   "); the first kernel output that is not finite: ", first,
                   ". The model's weights probably hold NaN or Inf values");
}

} // namespace kiln::runtime
