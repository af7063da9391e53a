// The OpenCL target: every kernel of the plan as generated OpenCL C
// (OpenClSource.h), one program built for the device the ICD loader finds
// (runtime/opencl/), cached as a binary. Runs wherever an OpenCL driver
// does: PoCL on the CPU in CI, a GPU's driver elsewhere.
#pragma once

#include "codegen/Target.h"
#include "runtime/opencl/OpenClModule.h"

namespace kiln::codegen::opencl {

using runtime::opencl::DeviceFacts;

class OpenClTarget final : public Target {
public:
  std::string_view name() const override { return "opencl"; }
  std::span<const GgmlType> decodableWeightTypes() const override;
  // Its attention kernels take any head size.
  bool supportsFlashAttention(int64_t headDim) const override;
  // Its matmuls have every prologue and epilogue the fusions make.
  bool supportsFusedMatmuls(const LowerOptions &lower) const override;
  Result<Program> compile(ModelSpec spec, LoweredModel lowered,
                          const CompileOptions &options) const override;
};

// The program source and launch shapes of a lowered model's kernels for a
// device with these facts (what `kiln compile --emit opencl` prints).
Result<runtime::opencl::OpenClModule> generateModule(const LoweredModel &lowered,
                                                     const DeviceFacts &facts);

// The facts of the device OpenCL would run on, or, when there is none,
// the baseline (OpenCL C 1.2, no fp16, no subgroups) and why in `why`.
DeviceFacts deviceFactsOrBaseline(std::string *why);

} // namespace kiln::codegen::opencl
