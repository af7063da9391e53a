// Emits the decoding of weight rows from their GGUF block format to f32,
// specialized to the format. The formulas mirror the reference
// dequantizers in frontend/quant (which are tested against llama.cpp's
// files), so generated kernels can be checked against them op by op.
#pragma once

#include "codegen/llvm/LoopEmitter.h"
#include "quant/GgmlType.h"

namespace kiln::codegen::lowering {

// Decodes `count` elements (a whole number of blocks) of a row stored at
// `row` into the float array `out`.
void emitDecodeRow(LoopEmitter &e, GgmlType format, llvm::Value *row,
                   llvm::Value *out, int64_t count);

// Bytes of one row of `count` elements.
int64_t rowBytes(GgmlType format, int64_t count);

bool canDecode(GgmlType format);

} // namespace kiln::codegen::lowering
