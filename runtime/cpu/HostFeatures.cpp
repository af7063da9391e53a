#include "runtime/cpu/HostFeatures.h"

#include <cstring>

namespace kiln::runtime {

namespace {

// LLVM feature name -> whether this CPU has it. __builtin_cpu_supports
// takes its names as literals, hence the table.
struct Known {
  const char *llvmName;
  bool (*has)();
};

#define KILN_FEATURE(llvm, gcc) {llvm, [] { return bool(__builtin_cpu_supports(gcc)); }}
const Known kKnown[] = {
    KILN_FEATURE("sse4.1", "sse4.1"),     KILN_FEATURE("sse4.2", "sse4.2"),
    KILN_FEATURE("popcnt", "popcnt"),     KILN_FEATURE("avx", "avx"),
    KILN_FEATURE("avx2", "avx2"),         KILN_FEATURE("fma", "fma"),
    KILN_FEATURE("bmi", "bmi"),           KILN_FEATURE("bmi2", "bmi2"),
    KILN_FEATURE("f16c", "f16c"),         KILN_FEATURE("avx512f", "avx512f"),
    KILN_FEATURE("avx512bw", "avx512bw"), KILN_FEATURE("avx512dq", "avx512dq"),
    KILN_FEATURE("avx512vl", "avx512vl"), KILN_FEATURE("avx512cd", "avx512cd"),
    KILN_FEATURE("avx512vnni", "avx512vnni"), KILN_FEATURE("avx512bf16", "avx512bf16"),
    KILN_FEATURE("avx512fp16", "avx512fp16"), KILN_FEATURE("avxvnni", "avxvnni"),
    KILN_FEATURE("amx-tile", "amx-tile"), KILN_FEATURE("amx-int8", "amx-int8"),
    KILN_FEATURE("amx-bf16", "amx-bf16"),
};
#undef KILN_FEATURE

} // namespace

std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &features) {
  __builtin_cpu_init();
  std::vector<std::string> missing;
  for (const std::string &feature : features)
    for (const Known &known : kKnown)
      if (feature == known.llvmName && !known.has())
        missing.push_back(feature);
  return missing;
}

} // namespace kiln::runtime
