// Reference encoders of the K-quant super-blocks (256 values each),
// reproducing ggml's quantizers without an importance matrix byte for byte.
// Each super-block is cut into sub-blocks of 16 or 32 values; a scale search
// (KQuantSearch.h) fits every sub-block, the sub-block scales are themselves
// quantized against one f16 super-block scale, and the values are then
// requantized with the scales as stored.
#pragma once

#include "BlockFormats.h"

namespace kiln::kquant {

blocks::Q2_K encodeQ2_K(const float *x);
blocks::Q3_K encodeQ3_K(const float *x);
blocks::Q4_K encodeQ4_K(const float *x);
blocks::Q5_K encodeQ5_K(const float *x);
blocks::Q6_K encodeQ6_K(const float *x);

} // namespace kiln::kquant
