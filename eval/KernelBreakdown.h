// Where the time goes: a kernel profile grouped by kernel kind. Generated
// kernels are named kiln_<index>_<kind> (e.g. kiln_3_matmul_q8_0); one kind
// covers every specialization of it, so the shares read like the model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::eval {

// "kiln_12_matmul_q8_0" -> "matmul_q8_0"; a name not in that form is its
// own kind.
std::string kernelKind(std::string_view symbol);

struct KernelShare {
  std::string kind;
  double seconds = 0;
  uint64_t calls = 0;
  double fraction = 0; // of the total seconds (0 when the total is 0)
};

// Sums seconds and calls per kind (symbols[i] ran seconds[i] in calls[i]),
// largest first, kinds that never ran left out.
std::vector<KernelShare> groupByKernelKind(const std::vector<std::string> &symbols,
                                           const std::vector<double> &seconds,
                                           const std::vector<uint64_t> &calls);

} // namespace kiln::eval
