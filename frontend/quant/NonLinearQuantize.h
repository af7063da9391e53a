// iq4_nl: 32 values per block, each an index into a fixed table of 16
// non-uniform levels (denser near zero, where weights cluster), times one
// f16 scale. kiln writes it because llama.cpp falls back to it for q2_K and
// q3_K tensors whose rows are not a whole number of 256-value super-blocks.
#pragma once

#include "BlockFormats.h"

#include <cstdint>

namespace kiln::kquant {

// The levels of iq4_nl, in increasing order.
inline constexpr int8_t kIq4NlLevels[16] = {-127, -104, -83, -65, -49, -35,
                                            -22,  -10,  1,   13,  25,  38,
                                            53,   69,   89,  113};

// The block llama-quantize writes (no importance matrix): values weighted
// by x², the scale searched over 15 candidates.
blocks::IQ4_NL encodeIQ4_NL(const float *x);

} // namespace kiln::kquant
