#include "codegen/cuda/CudaTarget.h"

#include "codegen/Compile.h"
#include "codegen/cpu/CpuTarget.h"
#include "codegen/cuda/PtxGenerator.h"
#include "runtime/cuda/CudaDevice.h"

namespace kiln::codegen::cuda {

namespace {

class CudaKernels final : public KernelModule {
public:
  explicit CudaKernels(std::shared_ptr<runtime::cuda::CudaProgram> program)
      : program_(std::move(program)) {}
  std::string_view targetName() const override { return "cuda"; }
  bool cacheHit() const override { return false; }
  std::string deviceName() const override {
    const runtime::cuda::CudaFacts &facts = program_->context()->facts();
    return facts.name + " (sm_" + std::to_string(facts.sm()) + ", kernels for " +
           program_->module().arch + ")";
  }
  Result<std::unique_ptr<runtime::Device>>
  createDevice(runtime::ThreadPool &) const override {
    return std::unique_ptr<runtime::Device>(
        std::make_unique<runtime::cuda::CudaDevice>(program_));
  }

private:
  std::shared_ptr<runtime::cuda::CudaProgram> program_;
};

const cpu::CpuTarget &sharedLowering() {
  static const cpu::CpuTarget target;
  return target;
}

} // namespace

// The kernels are the shared lowering's task bodies: they decode, fuse and
// lay out weights as those do.
std::span<const GgmlType> CudaTarget::decodableWeightTypes() const {
  return sharedLowering().decodableWeightTypes();
}

bool CudaTarget::supportsFlashAttention(int64_t headDim) const {
  return sharedLowering().supportsFlashAttention(headDim);
}

bool CudaTarget::supportsFusedMatmuls(const LowerOptions &lower) const {
  return sharedLowering().supportsFusedMatmuls(lower);
}

runtime::WeightLayout CudaTarget::matmulWeightLayout(GgmlType weights, int64_t rows,
                                                     int64_t cols,
                                                     const MatmulInputForm &input) const {
  return sharedLowering().matmulWeightLayout(weights, rows, cols, input);
}

Status CudaTarget::checkRunnable() const {
  auto driver = runtime::cuda::CudaDriver::open();
  if (!driver)
    return std::move(driver).takeError();
  auto devices = (*driver)->deviceCount();
  if (!devices)
    return std::move(devices).takeError();
  return Status::success();
}

Result<Program> CudaTarget::compile(ModelSpec spec, LoweredModel lowered,
                                    const CompileOptions &options) const {
  // The device first: without one there is nothing to generate for.
  auto context = runtime::cuda::CudaContext::open();
  if (!context)
    return makeError("--target cuda: ", context.error().message);
  PtxOptions ptx;
  if (!options.cudaArch.empty()) {
    ptx.arch = options.cudaArch;
  } else {
    // The device's own architecture, within what LLVM 19 emits.
    const int sm = (*context)->facts().sm();
    ptx.arch = "sm_" + std::to_string(sm > 90 ? 90 : sm);
  }
  auto module = generatePtx(lowered, ptx);
  if (!module)
    return std::move(module).takeError();
  auto program = runtime::cuda::CudaProgram::load(std::move(context).value(),
                                                  std::move(module).value());
  if (!program)
    return std::move(program).takeError();
  return Program{std::move(spec), std::move(lowered),
                 std::make_unique<CudaKernels>(std::move(program).value())};
}

} // namespace kiln::codegen::cuda
