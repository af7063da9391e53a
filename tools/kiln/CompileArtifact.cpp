#include "CompileArtifact.h"

#include "Command.h"
#include "codegen/Compile.h"
#include "codegen/cpu/KernelObject.h"
#include "codegen/cuda/PtxGenerator.h"
#include "gguf/GgufWriter.h"
#include "model/ModelSpec.h"
#include "runtime/WeightLayout.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/LoadedArtifact.h"
#if KILN_HAVE_OPENCL
#include "codegen/opencl/OpenClTarget.h"
#endif

#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace kiln::cli {

namespace {

namespace art = runtime::artifact;

// The flags that shaped the code, as a user would type them.
std::string optionsText(const CompileFlags &flags, const ArtifactRequest &request,
                        const std::string &cpu) {
  std::string text = "--target " + flags.target;
  if (flags.target == "cpu")
    text += " --cpu " + cpu;
  if (!flags.cudaArch.empty())
    text += " --cuda-arch " + flags.cudaArch;
  if (flags.noFuse)
    text += " --no-fuse";
  for (const std::string &pass : flags.disabledPasses)
    text += " --disable-pass " + pass;
  if (!flags.precision.empty()) {
    text += " --precision " + flags.precision;
    if (flags.budget > 0)
      text += " --budget " + std::to_string(flags.budget);
    if (flags.budgetBytes > 0)
      text += " --budget-bytes " + std::to_string(flags.budgetBytes);
    if (!flags.calibration.empty())
      text += " --calibration " + flags.calibration;
  }
  if (request.allLogits)
    text += " --all-logits";
  if (request.embedWeights)
    text += " --embed-weights";
  if (request.repackAtLoad)
    text += " --repack-at-load";
  return text;
}

std::string joined(const std::vector<std::string> &parts) {
  std::string text;
  for (const std::string &part : parts)
    text += (text.empty() ? "" : ",") + part;
  return text;
}

bool sameTensor(const GgufFile &a, const GgufTensorInfo &ta, const GgufFile &b,
                const GgufTensorInfo &tb) {
  if (ta.type != tb.type || ta.dims != tb.dims || ta.byteSize != tb.byteSize)
    return false;
  std::span<const uint8_t> x = a.tensorData(ta), y = b.tensorData(tb);
  return std::memcmp(x.data(), y.data(), x.size()) == 0;
}

// The weights the artifact holds, each in its plan layout: those the
// compiled model changed from the user's GGUF (--precision auto), those
// the target repacks (unless --repack-at-load), or all (--embed-weights).
Result<std::vector<art::WeightToWrite>> weightsToStore(const runtime::ExecutionPlan &plan,
                                                       const GgufFile &compiled,
                                                       const GgufFile &original,
                                                       const ArtifactRequest &request) {
  std::vector<art::WeightToWrite> stored;
  for (size_t i = 0; i < plan.weightNames.size(); ++i) {
    const std::string &name = plan.weightNames[i];
    const runtime::WeightLayout layout =
        i < plan.weightLayouts.size() ? plan.weightLayouts[i] : runtime::WeightLayout::Gguf;
    const GgufTensorInfo *tensor = compiled.findTensor(name);
    if (!tensor)
      return makeError(compiled.source(), ": tensor '", name, "' the plan needs is missing");
    const GgufTensorInfo *given = &compiled == &original ? tensor : original.findTensor(name);
    const bool changed = !given || (given != tensor && !sameTensor(compiled, *tensor, original, *given));
    const bool repacked = layout != runtime::WeightLayout::Gguf;
    if (!changed && !request.embedWeights && (!repacked || request.repackAtLoad))
      continue;
    art::WeightToWrite w;
    w.index = uint32_t(i);
    w.size = tensor->byteSize; // a layout reorders bytes, it keeps their count
    w.produce = [&compiled, tensor, layout](runtime::WeightBuffer &scratch)
        -> Result<std::span<const uint8_t>> {
      std::span<const uint8_t> data = compiled.tensorData(*tensor);
      if (layout == runtime::WeightLayout::Gguf)
        return data;
      const int64_t rows = tensor->dims.size() > 1 ? tensor->dims[1] : 1;
      auto packed = runtime::repackWeight(layout, tensor->type, data, rows,
                                          tensor->dims.empty() ? 0 : tensor->dims[0]);
      if (!packed)
        return makeError("tensor '", tensor->name, "': ", packed.error().message);
      scratch = std::move(packed).value();
      // Its pages are done with once written: the next weight's repack
      // should not push the file's out of memory.
      compiled.releaseTensorPages(*tensor);
      return std::span<const uint8_t>(scratch);
    };
    stored.push_back(std::move(w));
  }
  return stored;
}

// The PTX module for --cuda-arch, else sm_80: generated without a GPU, for
// the machine that has one.
Status addCudaModule(const codegen::LoweredModel &lowered, const codegen::CompileOptions &options,
                     art::Artifact &artifact) {
  codegen::cuda::PtxOptions ptx;
  if (!options.cudaArch.empty())
    ptx.arch = options.cudaArch;
  auto module = codegen::cuda::generatePtx(lowered, ptx);
  if (!module)
    return std::move(module).takeError();
  artifact.meta[art::meta::kCudaArch] = module->arch;
  artifact.cudaModule = std::move(module).value();
  return Status::success();
}

// The OpenCL program, generated for this host's OpenCL device if it has
// one, else for the OpenCL C 1.2 baseline (which any device builds).
Status addOpenClModule(const codegen::LoweredModel &lowered, art::Artifact &artifact) {
#if KILN_HAVE_OPENCL
  std::string why;
  runtime::opencl::DeviceFacts facts = codegen::opencl::deviceFactsOrBaseline(&why);
  auto module = codegen::opencl::generateModule(lowered, facts);
  if (!module)
    return std::move(module).takeError();
  artifact.openclModule = std::move(module).value();
  artifact.meta[art::meta::kOpenClDevice] =
      why.empty() ? facts.device + " (" + facts.platform + ", " + facts.openclC + ")"
                  : "the OpenCL C 1.2 baseline";
  return Status::success();
#else
  (void)lowered;
  (void)artifact;
  return makeError("--target opencl: this kiln was built without OpenCL (install "
                   "ocl-icd-opencl-dev and opencl-headers, then rebuild)");
#endif
}

} // namespace

int compileArtifact(const GgufFile &file, const CompileFlags &flags,
                    const ArtifactRequest &request) {
  char resolved[PATH_MAX];
  if (!realpath(request.model.c_str(), resolved))
    return reportError(request.model + ": cannot resolve the model's path");
  // The user's GGUF, which the artifact refers to; `file` is a mix made
  // from it when --precision auto chose types.
  std::optional<GgufFile> reopened;
  if (!flags.precision.empty()) {
    auto opened = GgufFile::open(resolved);
    if (!opened)
      return reportError(opened.error().message);
    reopened = std::move(opened).value();
  }
  const GgufFile &original = reopened ? *reopened : file;
  auto spec = ModelSpec::fromGguf(file);
  if (!spec)
    return reportError(spec.error().message);
  codegen::CompileOptions options;
  if (Status s = applyCompileFlags(flags, options); !s)
    return reportError(s.message());
  options.allLogits = request.allLogits;
  mlir::MLIRContext context;
  auto module = codegen::buildGraph(context, *spec, options);
  if (!module)
    return reportError(module.error().message);
  auto lowered = codegen::lowerGraph(module->get(), options);
  if (!lowered)
    return reportError(lowered.error().message);

  art::Artifact artifact;
  std::string where;
  if (flags.target == "cpu") {
    auto object = codegen::cpu::compileKernelObject(*lowered, request.cpu);
    if (!object)
      return reportError(object.error().message);
    auto shared = codegen::cpu::linkSharedObject(object->object);
    if (!shared)
      return reportError(shared.error().message);
    artifact.meta[art::meta::kCpu] = object->cpu;
    artifact.meta[art::meta::kCpuFeatures] = joined(object->features);
    artifact.cpuTasks = object->tasks;
    artifact.cpuCode = std::move(shared).value();
    where = "for CPU " + object->cpu + " (" + std::to_string(artifact.cpuCode.size()) +
            " bytes of code)";
  } else if (flags.target == "cuda") {
    if (Status s = addCudaModule(*lowered, options, artifact); !s)
      return reportError(s.message());
    where = "for CUDA " + artifact.cudaModule->arch + " (" +
            std::to_string(artifact.cudaModule->ptx.size()) + " bytes of PTX)";
  } else {
    if (Status s = addOpenClModule(*lowered, artifact); !s)
      return reportError(s.message());
    where = "for OpenCL, generated for " + artifact.meta[art::meta::kOpenClDevice];
  }
  auto digest = art::fileSha256(resolved);
  if (!digest)
    return reportError(digest.error().message);
  auto mtime = art::fileMtimeNs(resolved);
  if (!mtime)
    return reportError(mtime.error().message);
  auto stored = weightsToStore(lowered->plan, file, original, request);
  if (!stored)
    return reportError(stored.error().message);

  artifact.meta[art::meta::kKilnVersion] = art::kKilnVersion;
  artifact.meta[art::meta::kTarget] = flags.target;
  artifact.meta[art::meta::kOptions] = optionsText(flags, request, request.cpu);
  artifact.meta[art::meta::kGgufPath] = resolved;
  artifact.meta[art::meta::kGgufSize] = std::to_string(original.fileSize());
  artifact.meta[art::meta::kGgufMtime] = std::to_string(*mtime);
  artifact.meta[art::meta::kGgufSha256] = *digest;
  artifact.plan = lowered->plan;
  GgufWriter metadata(original.version());
  metadata.metadata() = original.metadata();
  artifact.ggufMetadata = metadata.encodeHeader();
  if (Status s = art::writeArtifact(request.output, artifact, *stored); !s)
    return reportError(s.message());
  uint64_t storedBytes = 0;
  for (const art::WeightToWrite &w : *stored)
    storedBytes += w.size;
  const size_t weightCount = lowered->plan.weightNames.size();
  std::string weights;
  if (stored->empty())
    weights = std::string("the weights stay in ") + resolved;
  else if (stored->size() == weightCount)
    weights = "it holds every weight (" + std::to_string(storedBytes) + " bytes)";
  else
    weights = std::to_string(stored->size()) + " of " + std::to_string(weightCount) +
              " weights stored as the kernels read them (" + std::to_string(storedBytes) +
              " bytes), the others read from " + resolved;
  std::fprintf(stderr, "kiln: wrote %s: %zu kernels %s; %s\n", request.output.c_str(),
               artifact.plan.kernelSymbols.size(), where.c_str(), weights.c_str());
  return 0;
}

} // namespace kiln::cli
