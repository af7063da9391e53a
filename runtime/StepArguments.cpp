#include "runtime/StepArguments.h"

namespace kiln::runtime {

Status checkStepArguments(const ExecutionPlan &plan, std::span<const uint32_t> argCounts,
                          const std::string &where) {
  for (const EntryPoint *entry : {&plan.prefill, &plan.decode})
    for (const Step &step : entry->steps) {
      if (step.kernel >= argCounts.size())
        return makeError(where, ": plan step '", step.label, "' calls kernel ",
                         std::to_string(step.kernel), ", which the module lacks");
      const std::string name = step.kernel < plan.kernelSymbols.size()
                                   ? plan.kernelSymbols[step.kernel]
                                   : std::to_string(step.kernel);
      if (step.args.size() != argCounts[step.kernel])
        return makeError(where, ": kernel '", name, "' takes ",
                         std::to_string(argCounts[step.kernel]), " arguments, plan step '",
                         step.label, "' passes ", std::to_string(step.args.size()));
    }
  return Status::success();
}

} // namespace kiln::runtime
