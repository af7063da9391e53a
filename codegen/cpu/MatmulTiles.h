// What the CPU matmul schedules share (MatmulEmitter.cpp for the float
// weights and the kernel itself, IntegerMatmulEmitter.cpp for weights
// dotted with q8-quantized rows): the part of a weight one task computes,
// the tiling of its rows and columns, and the prefetch of decode loops.
#pragma once

#include "codegen/cpu/KernelContext.h"
#include "runtime/WeightLayout.h"

#include <functional>

namespace kiln::codegen::cpu {

// One weight of a matmul kernel: its input rows, weight rows and bias, the
// output columns [first, last) this task computes, and what becomes of
// each sum (bias, epilogue, store).
struct MatmulSlice {
  llvm::Value *x = nullptr, *w = nullptr, *bias = nullptr;
  GgmlType format = GgmlType::F32;
  runtime::WeightLayout layout = runtime::WeightLayout::Gguf;
  int64_t N = 0;
  llvm::Value *first = nullptr, *last = nullptr;
  std::function<void(llvm::Value *sum, llvm::Value *t, llvm::Value *n)> store;
};

// The tiling shared by the matmul kernels: each task computes
// kMatmulTile output columns for every input row; `body(t0, R, n0, C)`
// computes rows [t0, t0 + R) x columns [n0, n0 + C); `batched` says the
// call has many tokens (also for its leftover rows). Many tokens go
// batchRows x batchColumns at a time, one token 1 x singleColumns; the
// leftovers one column at a time.
//
// With many tokens the task's columns are cut into blocks whose weights
// fit in L2 (kBlockWeightBytes), and every row goes through one block
// before the next: a task's half of a 2048 x 2048 f16 matrix is 4 MB, which
// each group of rows would otherwise stream again from L3 or memory. Each
// output is computed as without the blocks (the same micro-kernel on the
// same columns: blocks are whole groups of columns from the task's first),
// so results do not change.
struct MicroTiles {
  int64_t batchRows, batchColumns, singleColumns;
  // Many tokens: the columns left after the groups of batchColumns go in
  // groups of this many, then one at a time.
  int64_t leftoverColumns = 1;
};
using MicroKernel =
    std::function<void(llvm::Value *t0, int64_t R, llvm::Value *n0, int64_t C, bool batched)>;

void forEachMicroTile(Kernel &k, const MatmulSlice &slice, MicroTiles tiles,
                      const MicroKernel &body);

// One token (decode) streams each weight once, from memory. Each step of
// a decode loop asks for the cache lines kPrefetchBytes (MatmulTiles.cpp)
// ahead of the `stepBytes` it reads from `stream` + `offset`: the hardware
// prefetcher alone left the loads waiting. TinyLlama ffn block, one token,
// Zen 3, alternating without and with (kiln_bench_kernels, us): q8_0
// 1668-2059 against 1295-1785, q4_0 1024-1180 against 689-879, q4_K
// 1249-1546 against 1021-1065, f16 2716-2891 against 2204-2881; 1024 and
// 2048 bytes ahead did as well, 512 less.
void prefetchAhead(Kernel &k, llvm::Value *stream, llvm::Value *offset, int64_t stepBytes);

// Matmul on quantized input rows (integer dot products, IntegerDot.h).
void emitIntegerMatmul(Kernel &k, const MatmulSlice &slice);

} // namespace kiln::codegen::cpu
