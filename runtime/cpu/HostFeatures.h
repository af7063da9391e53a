// Which x86 features this CPU has, asked of the CPU itself (cpuid through
// the compiler's __builtin_cpu_supports), by LLVM's feature names: how the
// runner refuses kernels compiled for a feature the host lacks, before any
// of them can fault on an illegal instruction.
#pragma once

#include <string>
#include <vector>

namespace kiln::runtime {

// Of `features` (LLVM names: "avx2", "fma", "avx512f", "avx512vnni",
// "amx-int8", ...), those this CPU lacks. Features the check does not know
// are left out: they do not change which instructions the kernels use.
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &features);

} // namespace kiln::runtime
