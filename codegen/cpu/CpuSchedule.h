// How the CPU target cuts a kernel's work into tasks for the thread pool:
// its schedule, which the kernel descriptions and the plan do not carry
// (other targets choose their own). A CPU kernel does tasks [begin, end)
// of its work (runtime/cpu/CpuKernel.h); the matmul emitter and this count
// share the tile.
#pragma once

#include "codegen/KernelDesc.h"
#include "codegen/LoweredModel.h"
#include "runtime/cpu/CpuKernel.h"

namespace kiln::codegen::cpu {

// Output columns computed by one matmul task.
constexpr int64_t kMatmulTile = 16;

// One task per row for the row kernels (norms, with or without a
// conversion, included), one for Positions and LastRow, one per query head
// for attention, per row and group of flashHeadsPerTask heads for flash
// attention, and for a matmul its tiles of kMatmulTile output columns
// summed over the parts (SwiGLU: the tiles of one part, which gate and up
// share).
runtime::TaskCount taskCount(const KernelDesc &d);

// Query heads one flash-attention task computes: the largest divisor of
// the heads sharing a KV head that is at most 8, so the task converts each
// tile of keys and values once for all of them.
int64_t flashHeadsPerTask(const AttentionDesc &attention);

// The layout the CPU matmul kernels stream a weight of `rows` x `cols` in,
// given whether their input rows are q8-quantized (integer dots): q4_0
// eight columns at a time (q4_0x8), with fast numerics q4_K, q6_K and
// q8_0 sixteen (q4_Kx16, q6_Kx16, q8_0x16), the other integer-dot formats four in decode (rows4),
// f32/f16/bf16 two over chunks of 32 (pairs32); else the file's. The
// target asks for it, the emitter accepts it or the file's.
runtime::WeightLayout matmulWeightLayout(GgmlType weights, int64_t rows, int64_t cols,
                                         bool quantizedInput,
                                         Numerics numerics = Numerics::Exact);

} // namespace kiln::codegen::cpu
