// The CUDA target: the plan's kernels as one PTX module through LLVM's
// NVPTX back end (PtxGenerator.h), loaded and run through the CUDA driver
// (runtime/cuda/, opened at run time). Without an NVIDIA driver the target
// still generates PTX (--emit ptx, artifacts); running says why it cannot.
#pragma once

#include "codegen/Target.h"

namespace kiln::codegen::cuda {

class CudaTarget final : public Target {
public:
  std::string_view name() const override { return "cuda"; }
  // The shared lowering decodes what the CPU's does.
  std::span<const GgmlType> decodableWeightTypes() const override;
  bool supportsFlashAttention(int64_t headDim) const override;
  bool supportsFusedMatmuls(const LowerOptions &lower) const override;
  runtime::WeightLayout matmulWeightLayout(GgmlType weights, int64_t rows, int64_t cols,
                                           const MatmulInputForm &input) const override;
  // An NVIDIA driver that finds a GPU.
  Status checkRunnable() const override;
  Result<Program> compile(ModelSpec spec, LoweredModel lowered,
                          const CompileOptions &options) const override;
};

} // namespace kiln::codegen::cuda
