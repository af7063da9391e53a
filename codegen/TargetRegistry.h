// The targets kiln knows, by name. Some are known but not built yet
// (opencl, cuda): asking for one is a clear error, not a crash, and the
// command line accepts every known name so the error can say so.
#pragma once

#include "support/Result.h"

#include <string>
#include <string_view>
#include <vector>

namespace kiln::codegen {

class Target;

// Every known name, the built ones first: "cpu", "opencl", "cuda".
const std::vector<std::string> &knownTargetNames();

// The names of the targets this kiln can compile for: "cpu".
std::vector<std::string> builtTargetNames();

// The target of that name. Errors: "the CUDA target is not built yet
// (available: cpu)" for a known one that is not built, "no target named
// 'foo' (known: cpu, opencl, cuda)" for any other name.
Result<const Target *> findTarget(std::string_view name);

} // namespace kiln::codegen
