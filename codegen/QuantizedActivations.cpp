#include "QuantizedActivations.h"

namespace kiln::codegen {

std::optional<GgmlType> integerDotActivations(GgmlType weights) {
  std::optional<GgmlType> type = vecDotType(weights);
  if (type == GgmlType::Q8_0 || type == GgmlType::Q8_K)
    return type;
  return std::nullopt;
}

QuantizedRowLayout quantizedRowLayout(GgmlType activations, int64_t cols) {
  QuantizedRowLayout layout;
  bool kBlocks = activations == GgmlType::Q8_K;
  layout.block = kBlocks ? 256 : 32;
  layout.scalesOffset = cols;
  layout.extraOffset = cols + 4 * (cols / layout.block);
  layout.rowBytes = layout.extraOffset + 4 * (cols / (kBlocks ? 16 : 32));
  return layout;
}

} // namespace kiln::codegen
