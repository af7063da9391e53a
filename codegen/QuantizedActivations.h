// Matmul inputs quantized to 8-bit blocks for integer dot products, as
// llama.cpp's CPU path quantizes them (its vec_dot_type): q8_0 blocks of 32
// for q4_0/q5_0/q8_0 weights, q8_1 for q4_1/q5_1 (same values plus the
// block sum times d), q8_K blocks of 256 for the K-quants. Each block's
// integer sum of products is then exact, and the float arithmetic is one
// multiply-add per block, which is what makes kiln's results land on
// llama.cpp's and what makes the kernels fast.
//
// The layout of one quantized row of `cols` elements is ours (the kernels
// that write and read it are generated together):
//   int8  q[cols]                 the quantized values
//   float d[cols / block]         each block's scale (f16-rounded for q8_0)
//   then for q8_0: float s[cols / 32]   f16(d * sum(q)), as q8_1 stores it
//        for q8_K: int32 sums[cols / 16] sums of q over 16 elements
#pragma once

#include "quant/GgmlType.h"

#include <cstdint>
#include <optional>

namespace kiln::codegen {

struct QuantizedRowLayout {
  int64_t block = 0;        // elements per scale: 32 or 256
  int64_t scalesOffset = 0; // byte offset of d[]
  int64_t extraOffset = 0;  // byte offset of s[] or sums[]
  int64_t rowBytes = 0;     // a multiple of 4
};

// The activation format integer dot products with `weights` use, if kiln
// generates them for that weight format.
std::optional<GgmlType> integerDotActivations(GgmlType weights);

// `activations` is Q8_0 or Q8_K; `cols` a multiple of its block.
QuantizedRowLayout quantizedRowLayout(GgmlType activations, int64_t cols);

} // namespace kiln::codegen
