#include "codegen/cpu/CpuTarget.h"

#include "codegen/Compile.h"
#include "codegen/cpu/CpuSchedule.h"

namespace kiln::codegen::cpu {

namespace {

// Best first, as the precision chooser tries them.
constexpr GgmlType kDecodable[] = {
    GgmlType::F16,  GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K,
    GgmlType::Q5_1, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q4_1,
    GgmlType::Q4_0, GgmlType::Q3_K, GgmlType::Q2_K,
};

} // namespace

std::span<const GgmlType> CpuTarget::decodableWeightTypes() const { return kDecodable; }

// The flash kernel reads a head 8 floats at a time.
bool CpuTarget::supportsFlashAttention(int64_t headDim) const { return headDim % 8 == 0; }

// The layout the matmul kernels stream (CpuSchedule.h).
runtime::WeightLayout CpuTarget::matmulWeightLayout(GgmlType weights, int64_t rows,
                                                    int64_t cols,
                                                    const MatmulInputForm &input) const {
  return cpu::matmulWeightLayout(weights, rows, cols, input.quantized.has_value(),
                                 input.numerics);
}

// The fused matmul kernels are written for the integer and the plain dot
// products; the float-dot fallback (integerDots off) runs unfused.
bool CpuTarget::supportsFusedMatmuls(const LowerOptions &lower) const {
  return lower.integerDots;
}

Result<Program> CpuTarget::compile(ModelSpec spec, LoweredModel lowered,
                                   const CompileOptions &options) const {
  CpuOptions cpu = options.cpu;
  if (cpu.cacheDir.empty())
    cpu.cacheDir = options.cacheDir;
  auto jit = CpuJit::compile(lowered, cpu);
  if (!jit)
    return std::move(jit).takeError();
  return Program{std::move(spec), std::move(lowered),
                 std::unique_ptr<KernelModule>(std::move(jit).value())};
}

} // namespace kiln::codegen::cpu
