// Emits the dequantization of one weight block as 16-lane float vectors:
// the block's elements are produced in groups of 16, each handed to a
// callback with its element offset in the block. Matmul kernels either dot
// them with the input (one token) or store them to a scratch row (many).
// The formulas mirror frontend/quant's reference dequantizers.
#pragma once

#include "codegen/llvm/LoopEmitter.h"
#include "quant/GgmlType.h"

#include <functional>

namespace kiln::codegen::lowering {

// 16 lanes follow the formats (half a 32-element block, one Q6_K group),
// not a machine's vector width.
inline constexpr unsigned kLanes = 16;

// `group` numbers the vectors of one block in emission order (0, 1, ...),
// so callers can spread them over independent accumulators.
using VectorSink = std::function<void(llvm::Value *values, llvm::Value *offset,
                                      unsigned group)>;

// True where emitBlockVectors handles the format.
bool hasBlockVectors(GgmlType format);

// Elements per block as the vector code sees them (16 for f32/f16/bf16,
// whose "block" is one vector).
int64_t vectorBlockElements(GgmlType format);

// Q4_K/Q5_K keep eight 6-bit scales and eight 6-bit mins in 12 bytes at
// `scales`; emits sub-block `s`'s pair as i32 values.
void emitQ4KScaleAndMin(LoopEmitter &e, llvm::Value *scales, llvm::Value *s,
                        llvm::Value *&scale, llvm::Value *&min);

void emitBlockVectors(LoopEmitter &e, GgmlType format, llvm::Value *block,
                      const VectorSink &sink);

} // namespace kiln::codegen::lowering
