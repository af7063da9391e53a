#include "codegen/cpu/CpuTarget.h"

#include "codegen/Compile.h"

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

// The matmuls stream their columns' weights interleaved: the integer-dot
// ones q4_0 eight columns at a time (emitQ40Matmul), the other formats four
// in decode (emitIntegerMatmul); f32/f16/bf16 two (emitPlainMatmul).
runtime::WeightLayout CpuTarget::matmulWeightLayout(GgmlType weights, int64_t rows,
                                                    int64_t cols,
                                                    const MatmulInputForm &input) const {
  const bool plain =
      weights == GgmlType::F32 || weights == GgmlType::F16 || weights == GgmlType::BF16;
  if (!input.quantized)
    return plain && rows % 2 == 0 && cols % 32 == 0 ? runtime::WeightLayout::Pairs32
                                                    : runtime::WeightLayout::Gguf;
  if (cols % ggmlTypeInfo(weights).blockSize != 0)
    return runtime::WeightLayout::Gguf;
  if (weights == GgmlType::Q4_0 && rows % 8 == 0)
    return runtime::WeightLayout::Q4_0x8;
  if (rows % 4 == 0)
    return runtime::WeightLayout::Rows4;
  return runtime::WeightLayout::Gguf;
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
