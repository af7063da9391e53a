#include "ArtifactInfo.h"

#include "Command.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/artifact/LoadedArtifact.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace kiln::cli {

int describeArtifact(const std::string &path, bool verify, bool json) {
  namespace art = runtime::artifact;
  // Verifying reads every byte of the weights; without it they are
  // bounds-checked only, as at load.
  art::ReadOptions options;
  options.verifyWeights = verify;
  auto artifact = art::readArtifact(path, options);
  if (!artifact)
    return reportError(artifact.error().message);
  const runtime::ExecutionPlan &plan = artifact->plan;
  uint64_t storedBytes = 0;
  for (const art::StoredWeight &w : artifact->weights)
    storedBytes += w.bytes.size();
  const std::string code =
      !artifact->cpuCode.empty()
          ? "cpu.so, " + std::to_string(artifact->cpuCode.size()) + " bytes"
          : artifact->openclModule
                ? "opencl.module, " + std::to_string(artifact->openclModule->source.size()) +
                      " bytes of OpenCL C"
                : artifact->cudaModule
                      ? "cuda.module, " + std::to_string(artifact->cudaModule->ptx.size()) +
                            " bytes of PTX for " + artifact->cudaModule->arch
                      : "none";
  if (json) {
    nlohmann::json out;
    out["format_version"] = art::kFormatVersion;
    out["meta"] = artifact->meta;
    out["kernels"] = plan.kernelSymbols.size();
    out["code"] = code;
    out["weights"] = plan.weightNames.size();
    out["stored_weights"] = artifact->weights.size();
    out["stored_weight_bytes"] = storedBytes;
    out["verified"] = verify;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("artifact:      %s (format version %u)\n", path.c_str(), art::kFormatVersion);
  for (const auto &[key, value] : artifact->meta)
    std::printf("%-14s %s\n", (key + ":").c_str(), value.c_str());
  std::printf("kernels:       %zu (%s)\n", plan.kernelSymbols.size(), code.c_str());
  std::printf("context:       %lld positions, vocabulary %lld\n",
              static_cast<long long>(plan.contextLength), static_cast<long long>(plan.vocabSize));
  std::printf("weights:       %zu stored in the artifact (%llu bytes) of %zu the plan reads%s\n",
              artifact->weights.size(), static_cast<unsigned long long>(storedBytes),
              plan.weightNames.size(),
              artifact->weights.size() == plan.weightNames.size() ? ""
                                                                  : "; the others from the GGUF");
  if (verify)
    std::printf("verified:      every section, the weights included, matches its SHA-256\n");
  return 0;
}

} // namespace kiln::cli
