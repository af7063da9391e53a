// libFuzzer target for the AOT artifact reader (runtime/artifact): any
// bytes are parsed as an artifact; the parser must return an error or an
// artifact whose plan the executor could trust (every index in range), and
// never read out of bounds, allocate from a corrupt count or crash.
#include "runtime/artifact/Artifact.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace kiln::runtime;
  auto artifact = artifact::parseArtifact(std::span<const uint8_t>(data, size), "fuzz.kiln");
  if (!artifact)
    return 0;
  const ExecutionPlan &plan = artifact->plan;
  for (const EntryPoint *entry : {&plan.prefill, &plan.decode}) {
    if (entry->logits >= plan.buffers.size())
      std::abort();
    for (const Step &step : entry->steps) {
      if (step.kernel >= plan.kernelSymbols.size())
        std::abort();
      for (const Slot &slot : step.args)
        if ((slot.kind == SlotKind::Weight && slot.index >= plan.weightNames.size()) ||
            (slot.kind == SlotKind::Activation && slot.index >= plan.buffers.size()))
          std::abort();
    }
  }
  if (!artifact->cpuCode.empty() && artifact->cpuTasks.size() != plan.kernelSymbols.size())
    std::abort();
  if (artifact->openclModule && artifact->openclModule->kernels.size() != plan.kernelSymbols.size())
    std::abort();
  // Stored weights: in the plan, in order, inside the bytes given.
  for (size_t i = 0; i < artifact->weights.size(); ++i) {
    const artifact::StoredWeight &w = artifact->weights[i];
    if (w.index >= plan.weightNames.size() || (i > 0 && w.index <= artifact->weights[i - 1].index))
      std::abort();
    if (!w.bytes.empty() && (w.bytes.data() < data || w.bytes.data() + w.bytes.size() > data + size))
      std::abort();
  }
  return 0;
}
