// Reference dequantization: GGUF blocks to float, one scalar loop per format,
// written to be obviously right. Generated kernels are checked against it.
#pragma once

#include "GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <span>

namespace kiln {

bool canDequantize(GgmlType type);

// Converts dst.size() elements (a whole number of blocks) stored as `type`
// in `src` (exactly their byte size) to float.
Status dequantize(GgmlType type, std::span<const uint8_t> src,
                  std::span<float> dst);

} // namespace kiln
