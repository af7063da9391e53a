// The CUDA target's code generation: every kernel of a lowered model as one
// PTX module, through LLVM's NVPTX back end.
//
// The kernels are the shared LLVM lowering's task bodies (the emitters in
// codegen/cpu/ with no x86 instruction: EmitTarget{}), each wrapped in a
// PTX entry that runs one task per GPU thread. So the CUDA kernels compute
// what the CPU's compute, task for task; GPU-shaped kernels (warp-wide
// GEMV, tensor-core GEMM, flash attention over a thread block) are the next
// step behind the same entries.
#pragma once

#include "codegen/LoweredModel.h"
#include "runtime/cuda/CudaModule.h"
#include "support/Result.h"

#include <string>

namespace kiln::codegen::cuda {

// The GPU architectures the PTX may target: LLVM 19 knows up to sm_90, and
// CUDA 13's ptxas refuses anything older than sm_75.
constexpr const char *kDefaultArch = "sm_80";
bool isSupportedArch(const std::string &arch);

struct PtxOptions {
  std::string arch = kDefaultArch; // sm_75 .. sm_90
  // Receives the kernels' LLVM IR (NVPTX, optimized) when set.
  std::string *irOut = nullptr;
};

Result<runtime::cuda::CudaModule> generatePtx(const LoweredModel &lowered,
                                              const PtxOptions &options = {});

} // namespace kiln::codegen::cuda
