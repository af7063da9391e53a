#include "codegen/opencl/OpenClTarget.h"

#include "codegen/Compile.h"
#include "codegen/opencl/OpenClSource.h"
#include "runtime/StepArguments.h"
#include "runtime/opencl/OpenClDevice.h"

#include <cstdlib>
#include <iostream>

namespace kiln::codegen::opencl {

namespace {

// Best first, as the precision chooser tries them.
constexpr GgmlType kDecodable[] = {
    GgmlType::F16,  GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::Q5_K,
    GgmlType::Q5_1, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::Q4_1,
    GgmlType::Q4_0, GgmlType::Q3_K, GgmlType::Q2_K,
};

class OpenClKernels final : public KernelModule {
public:
  explicit OpenClKernels(std::shared_ptr<runtime::opencl::OpenClProgram> program)
      : program_(std::move(program)) {}
  std::string_view targetName() const override { return "opencl"; }
  bool cacheHit() const override { return program_->cacheHit(); }
  std::string deviceName() const override {
    const DeviceFacts &facts = program_->context()->facts();
    return facts.device + " (" + facts.platform + ")";
  }
  Result<std::unique_ptr<runtime::Device>>
  createDevice(runtime::ThreadPool &) const override {
    return std::unique_ptr<runtime::Device>(
        std::make_unique<runtime::opencl::OpenClDevice>(program_));
  }

private:
  std::shared_ptr<runtime::opencl::OpenClProgram> program_;
};

} // namespace

std::span<const GgmlType> OpenClTarget::decodableWeightTypes() const { return kDecodable; }

bool OpenClTarget::supportsFlashAttention(int64_t) const { return true; }

bool OpenClTarget::supportsFusedMatmuls(const LowerOptions &) const { return true; }

namespace {

// "OpenCL C 2.0 ..." -> 2; 1 when unreadable.
int openClCMajor(const std::string &version) {
  size_t at = version.find_first_of("0123456789");
  return at == std::string::npos ? 1 : std::atoi(version.c_str() + at);
}

// Every plan step hands its kernel as many arguments as the kernel takes:
// the emitters and the plan builder each spell the argument lists.
Status checkArguments(const LoweredModel &lowered,
                      const runtime::opencl::OpenClModule &module) {
  return runtime::checkEntryArguments(lowered.plan, module.kernels, "OpenCL module");
}

} // namespace

Result<runtime::opencl::OpenClModule> generateModule(const LoweredModel &lowered,
                                                     const DeviceFacts &deviceFacts) {
  // Subgroup functions are OpenCL C 2.0's: a 1.2 device that lists the
  // extension gets the baseline reductions.
  DeviceFacts facts = deviceFacts;
  const bool openClC2 = openClCMajor(facts.openclC) >= 2;
  facts.subgroups = facts.subgroups && openClC2;
  runtime::opencl::OpenClModule module;
  module.source = commonPreamble(facts) + weightDecodePreamble() + ropePreamble() +
                  activationPreamble();
  for (size_t i = 0; i < lowered.kernels.size(); ++i) {
    // Kernel symbols are C identifiers already (the CPU's symbols).
    const std::string &name = lowered.plan.kernelSymbols[i];
    auto kernel = emitKernelSource(lowered.kernels[i], name, facts);
    if (!kernel)
      return makeError("OpenCL kernel '", name, "': ", kernel.error().message);
    module.source += "\n" + kernel->text + "\n";
    module.kernels.push_back({name, kernel->argCount, kernel->launch});
  }
  // IEEE f32 throughout: no -cl-mad-enable (mad may round less exactly)
  // and no -cl-fast-relaxed-math (NaNs and infinities keep their meaning;
  // 1/x stays exact, which the q8 scales need).
  module.buildOptions = facts.subgroups ? "-cl-std=CL2.0" : "-cl-std=CL1.2";
  KILN_TRY(checkArguments(lowered, module));
  return module;
}

DeviceFacts deviceFactsOrBaseline(std::string *why) {
  auto context = runtime::opencl::OpenClContext::open();
  if (context)
    return (*context)->facts();
  if (why)
    *why = context.error().message;
  DeviceFacts baseline;
  baseline.openclC = "OpenCL C 1.2";
  baseline.maxWorkGroup = 256;
  return baseline;
}

Result<Program> OpenClTarget::compile(ModelSpec spec, LoweredModel lowered,
                                      const CompileOptions &options) const {
  auto context = runtime::opencl::OpenClContext::open();
  if (!context)
    return makeError("--target opencl: ", context.error().message);
  auto module = generateModule(lowered, (*context)->facts());
  if (!module)
    return std::move(module).takeError();
  auto program = runtime::opencl::OpenClProgram::build(
      std::move(context).value(), std::move(module).value(), options.cacheDir,
      [](const std::string &warning) { std::cerr << "kiln: warning: " << warning << "\n"; });
  if (!program)
    return std::move(program).takeError();
  return Program{std::move(spec), std::move(lowered),
                 std::make_unique<OpenClKernels>(std::move(program).value())};
}

} // namespace kiln::codegen::opencl
