// The x86 CPU target: LLVM IR kernels (AVX2/AVX-512 as the host has them)
// compiled and loaded in process by the ORC JIT (CpuJit.h).
#pragma once

#include "codegen/Target.h"

namespace kiln::codegen::cpu {

class CpuTarget final : public Target {
public:
  std::string_view name() const override { return "cpu"; }
  std::span<const GgmlType> decodableWeightTypes() const override;
  bool supportsFlashAttention(int64_t headDim) const override;
  bool supportsFusedMatmuls(const LowerOptions &lower) const override;
  runtime::WeightLayout matmulWeightLayout(GgmlType weights, int64_t rows, int64_t cols,
                                           const MatmulInputForm &input) const override;
  Result<Program> compile(ModelSpec spec, LoweredModel lowered,
                          const CompileOptions &options) const override;
};

} // namespace kiln::codegen::cpu
