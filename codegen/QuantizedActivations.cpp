#include "QuantizedActivations.h"

namespace kiln::codegen {

std::optional<GgmlType> integerDotActivations(GgmlType weights) {
  switch (weights) {
  case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0:
  case GgmlType::Q5_1: case GgmlType::Q8_0:
    return GgmlType::Q8_0;
  case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K:
  case GgmlType::Q5_K: case GgmlType::Q6_K:
    return GgmlType::Q8_K;
  default:
    return std::nullopt;
  }
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
