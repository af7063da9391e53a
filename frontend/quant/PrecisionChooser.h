// Per-tensor mixed precision: given, for every weight tensor, the types it
// may be stored in with their bytes and costs (QuantError.h), choose one
// type per tensor so that the total cost is smallest and the bytes fit a
// budget. This is a multiple-choice knapsack, solved exactly by dynamic
// programming over the bytes above each tensor's smallest type, counted
// in units of 1/65536 of the largest possible excess (rounded up, so the
// budget always holds). The unit depends on the tensors, not the budget,
// so more budget never gives a costlier choice.
#pragma once

#include "GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln {

struct TypeOption {
  GgmlType type;
  uint64_t bytes = 0;
  double cost = 0;
};

struct TensorOptions {
  std::string name;
  uint64_t parameters = 0;
  std::vector<TypeOption> options; // at least one
};

struct PrecisionChoice {
  std::vector<size_t> chosen; // per tensor, an index into its options
  uint64_t bytes = 0;
  double cost = 0;
};

// The bytes when every tensor takes its smallest type.
uint64_t minimumBytes(std::span<const TensorOptions> tensors);

// The cheapest choice within `budgetBytes`; an error naming the smallest
// possible size when the budget is below it.
Result<PrecisionChoice> choosePrecision(std::span<const TensorOptions> tensors,
                                        uint64_t budgetBytes);

} // namespace kiln
