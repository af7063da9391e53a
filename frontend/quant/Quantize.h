// Reference quantization: float to GGUF blocks, reproducing ggml's reference
// quantizers bit for bit (so our files match llama-quantize's byte for byte
// when no importance matrix is used).
#pragma once

#include "GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <span>

namespace kiln {

bool canQuantize(GgmlType type);

// Converts src.size() floats (a whole number of blocks) to `type`, writing
// exactly their byte size into dst.
Status quantize(GgmlType type, std::span<const float> src,
                std::span<uint8_t> dst);

} // namespace kiln
