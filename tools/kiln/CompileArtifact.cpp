#include "CompileArtifact.h"

#include "Command.h"
#include "codegen/Compile.h"
#include "codegen/cpu/KernelObject.h"
#include "model/ModelSpec.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/LoadedArtifact.h"

#include "mlir/IR/MLIRContext.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace kiln::cli {

namespace {

// The flags that shaped the code, as a user would type them.
std::string optionsText(const CompileFlags &flags, const ArtifactRequest &request,
                        const std::string &cpu) {
  std::string text = "--target " + flags.target + " --cpu " + cpu;
  if (flags.noFuse)
    text += " --no-fuse";
  for (const std::string &pass : flags.disabledPasses)
    text += " --disable-pass " + pass;
  if (request.allLogits)
    text += " --all-logits";
  return text;
}

std::string joined(const std::vector<std::string> &parts) {
  std::string text;
  for (const std::string &part : parts)
    text += (text.empty() ? "" : ",") + part;
  return text;
}

} // namespace

int compileArtifact(const GgufFile &file, const CompileFlags &flags,
                    const ArtifactRequest &request) {
  namespace art = runtime::artifact;
  if (flags.target != "cpu")
    return reportError("-o " + request.output + ": artifacts for --target " + flags.target +
                       " are not built yet; the cpu target's are (--target cpu)");
  if (!flags.precision.empty())
    return reportError("-o " + request.output + ": --precision auto is not stored in "
                       "artifacts yet (its requantized weights would have to be); "
                       "compile without it, or run it with kiln run --precision auto");
  char resolved[PATH_MAX];
  if (!realpath(request.model.c_str(), resolved))
    return reportError(request.model + ": cannot resolve the model's path");
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
  auto object = codegen::cpu::compileKernelObject(*lowered, request.cpu);
  if (!object)
    return reportError(object.error().message);
  auto shared = codegen::cpu::linkSharedObject(object->object);
  if (!shared)
    return reportError(shared.error().message);
  auto digest = art::fileSha256(resolved);
  if (!digest)
    return reportError(digest.error().message);
  auto mtime = art::fileMtimeNs(resolved);
  if (!mtime)
    return reportError(mtime.error().message);

  art::Artifact artifact;
  artifact.meta[art::meta::kKilnVersion] = art::kKilnVersion;
  artifact.meta[art::meta::kTarget] = "cpu";
  artifact.meta[art::meta::kCpu] = object->cpu;
  artifact.meta[art::meta::kCpuFeatures] = joined(object->features);
  artifact.meta[art::meta::kOptions] = optionsText(flags, request, request.cpu);
  artifact.meta[art::meta::kGgufPath] = resolved;
  artifact.meta[art::meta::kGgufSize] = std::to_string(file.fileSize());
  artifact.meta[art::meta::kGgufMtime] = std::to_string(*mtime);
  artifact.meta[art::meta::kGgufSha256] = *digest;
  artifact.plan = lowered->plan;
  artifact.cpuTasks = object->tasks;
  artifact.cpuCode = std::move(shared).value();
  if (Status s = art::writeArtifact(request.output, artifact); !s)
    return reportError(s.message());
  std::fprintf(stderr,
               "kiln: wrote %s: %zu kernels for CPU %s (%zu bytes of code); the weights stay "
               "in %s\n",
               request.output.c_str(), artifact.plan.kernelSymbols.size(), object->cpu.c_str(),
               artifact.cpuCode.size(), resolved);
  return 0;
}

} // namespace kiln::cli
