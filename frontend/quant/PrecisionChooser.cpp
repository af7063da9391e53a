#include "PrecisionChooser.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace kiln {

namespace {

constexpr uint64_t kUnits = 1u << 16;

size_t smallestOption(const TensorOptions &tensor) {
  size_t best = 0;
  for (size_t i = 1; i < tensor.options.size(); ++i) {
    const TypeOption &a = tensor.options[i], &b = tensor.options[best];
    if (a.bytes < b.bytes || (a.bytes == b.bytes && a.cost < b.cost))
      best = i;
  }
  return best;
}

std::string bitsPerWeightText(uint64_t bytes, uint64_t parameters) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", parameters ? 8.0 * bytes / parameters : 0.0);
  return text;
}

} // namespace

uint64_t minimumBytes(std::span<const TensorOptions> tensors) {
  uint64_t bytes = 0;
  for (const TensorOptions &tensor : tensors)
    bytes += tensor.options[smallestOption(tensor)].bytes;
  return bytes;
}

Result<PrecisionChoice> choosePrecision(std::span<const TensorOptions> tensors,
                                        uint64_t budgetBytes) {
  uint64_t parameters = 0, maxExcess = 0;
  std::vector<size_t> smallest;
  for (const TensorOptions &tensor : tensors) {
    if (tensor.options.empty())
      return makeError("precision: tensor '", tensor.name, "' has no type to choose");
    if (tensor.options.size() > 255)
      return makeError("precision: tensor '", tensor.name, "' has too many types");
    size_t s = smallestOption(tensor);
    smallest.push_back(s);
    uint64_t largest = 0;
    for (const TypeOption &option : tensor.options)
      largest = std::max(largest, option.bytes);
    maxExcess += largest - tensor.options[s].bytes;
    parameters += tensor.parameters;
  }
  uint64_t minimum = minimumBytes(tensors);
  if (budgetBytes < minimum)
    return makeError("the budget of ", std::to_string(budgetBytes), " bytes (",
                     bitsPerWeightText(budgetBytes, parameters),
                     " bits per weight) is below the smallest possible mix: ",
                     std::to_string(minimum), " bytes (",
                     bitsPerWeightText(minimum, parameters),
                     " bits per weight, every tensor in its smallest type)");

  // Excess bytes over each tensor's smallest type, in units rounded up.
  const uint64_t unit = std::max<uint64_t>(1, (maxExcess + kUnits - 1) / kUnits);
  const size_t capacity =
      size_t(std::min<uint64_t>((budgetBytes - minimum) / unit, maxExcess / unit + tensors.size()));
  auto excessUnits = [&](size_t t, const TypeOption &option) {
    uint64_t excess = option.bytes - tensors[t].options[smallest[t]].bytes;
    return size_t((excess + unit - 1) / unit);
  };

  // best[c]: the least cost of the tensors so far within c units; taken[t][c]
  // the option tensor t takes there. Options are tried smallest first and
  // replaced only by a strictly cheaper one, so ties keep fewer bytes.
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  std::vector<double> best(capacity + 1, 0.0), next(capacity + 1);
  std::vector<std::vector<uint8_t>> taken(tensors.size(),
                                          std::vector<uint8_t>(capacity + 1));
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto &options = tensors[t].options;
    std::vector<size_t> order(options.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return options[a].bytes != options[b].bytes ? options[a].bytes < options[b].bytes
                                                   : a < b;
    });
    for (size_t c = 0; c <= capacity; ++c) {
      double least = kInfinity;
      uint8_t pick = 0;
      for (size_t i : order) {
        size_t units = excessUnits(t, options[i]);
        if (units > c)
          continue;
        double cost = best[c - units] + options[i].cost;
        if (cost < least) {
          least = cost;
          pick = uint8_t(i);
        }
      }
      next[c] = least;
      taken[t][c] = pick;
    }
    std::swap(best, next);
  }

  PrecisionChoice choice;
  choice.chosen.resize(tensors.size());
  size_t c = capacity;
  for (size_t t = tensors.size(); t-- > 0;) {
    size_t pick = taken[t][c];
    choice.chosen[t] = pick;
    c -= excessUnits(t, tensors[t].options[pick]);
  }
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TypeOption &option = tensors[t].options[choice.chosen[t]];
    choice.bytes += option.bytes;
    choice.cost += option.cost;
  }
  return choice;
}

} // namespace kiln
