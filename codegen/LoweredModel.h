// A model lowered to an execution plan, and the options of that lowering:
// what PlanBuilder.h produces and every target compiles. Free of MLIR, so
// the target interface and the runtime-facing code can include it.
#pragma once

#include "codegen/KernelDesc.h"
#include "runtime/ExecutionPlan.h"

#include <vector>

namespace kiln::codegen {

// The order the matmul kernels may sum in (--numerics).
enum class Numerics : uint8_t {
  // llama.cpp's AVX2 arithmetic bit for bit: the kernels' vectors carry
  // its lanes, whatever their width (what the llama.cpp tests compare).
  Exact,
  // The target may load weights in layouts whose kernels sum each block's
  // exact integers whole and add one float step per block where llama.cpp
  // keeps eight float lanes (q4_K, q6_K, q8_0: runtime::WeightLayout::
  // Q4_Kx16, Q6_Kx16, Q8_0x16): other last bits, as accurate. Formats
  // without such a kernel run as in Exact.
  Fast,
};

struct LowerOptions {
  bool kvCacheF16 = true; // else f32
  Numerics numerics = Numerics::Fast;
  // Give each matmul its input as llama.cpp's CPU dot products see it:
  // rounded to f16 (f16 weights) or quantized to q8_0 (q4_0, q5_0, q8_0;
  // also q4_1 and q5_1, whose q8_1 rounds the same way) or q8_K blocks
  // (K-quants). The matmul itself stays in f32.
  bool matchLlamaCppActivations = true;
  // Matmuls on quantized weights (q4_0 ... q8_0, q2_K ... q6_K) quantize
  // their input to q8 blocks once and use integer dot products (exact
  // block sums, as llama.cpp's; QuantizedActivations.h). Off: the
  // activations are rounded as llama.cpp's (matchLlamaCppActivations) and
  // multiplied in f32.
  bool integerDots = true;
  // Let the target load matmul weights in the layouts its kernels stream
  // best (Target::matmulWeightLayout). Off: every weight is read in place,
  // in the file's layout, so a caller that changes the file's bytes after
  // the executor starts (calibration swapping one tensor at a time) is
  // seen by the kernels.
  bool weightLayouts = true;
};

struct LoweredModel {
  runtime::ExecutionPlan plan;
  std::vector<KernelDesc> kernels; // kernels[i] is plan.kernelSymbols[i]
};

} // namespace kiln::codegen
