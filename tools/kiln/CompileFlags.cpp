#include "CompileFlags.h"

#include "CommonFlags.h"
#include "codegen/Target.h"
#include "codegen/TargetRegistry.h"
#include "codegen/cuda/PtxGenerator.h"
#include "compiler/precision/AutoPrecision.h"
#include "passes/PassOptions.h"

#include <algorithm>

namespace kiln::cli {

namespace {

// The target --target names, or "--target NAME: <why not>".
Result<const codegen::Target *> chosenTarget(const CompileFlags &flags) {
  auto target = codegen::findTarget(flags.target);
  if (!target)
    return makeError("--target ", flags.target, ": ", target.error().message);
  return target;
}

} // namespace

void addCompileFlags(CLI::App &app, CompileFlags &flags) {
  std::string known, built;
  for (const std::string &name : codegen::knownTargetNames())
    known += (known.empty() ? "" : "|") + name;
  for (const std::string &name : codegen::builtTargetNames())
    built += (built.empty() ? "" : ", ") + name;
  app.add_option("--target", flags.target,
                 "What to compile for: " + known + " (built so far: " + built + ")")
      ->check(CLI::IsMember(codegen::knownTargetNames()))
      ->capture_default_str();
  app.add_option("--cuda-arch", flags.cudaArch,
                 "With --target cuda: the GPU architecture of the PTX, sm_75 to sm_90 "
                 "(default: the GPU's own when one runs it, else " +
                     std::string(codegen::cuda::kDefaultArch) + ")");
  app.add_flag("--no-fuse", flags.noFuse, "Run no fusion pass");
  app.add_option("--numerics", flags.numerics,
                 "fast (default): kernels that may sum each block in their own "
                 "order (other last bits, as accurate: q4_K, q6_K and q8_0 weights "
                 "sixteen columns at a time); exact: llama.cpp's AVX2 arithmetic "
                 "bit for bit")
      ->check(CLI::IsMember({"exact", "fast"}));
  std::string names;
  for (const std::string &name : passes::fusionPassNames())
    names += (names.empty() ? "" : ", ") + name;
  app.add_option("--disable-pass", flags.disabledPasses,
                 "Skip one fusion pass (repeatable): " + names)
      ->delimiter(',');
  auto *precision =
      app.add_option("--precision", flags.precision,
                     "auto: choose each weight matrix's type (f16 ... q2_K) to "
                     "lose the least within --budget or --budget-bytes, "
                     "requantizing from the file's values")
          ->check(CLI::IsMember({"auto"}));
  auto *budget = app.add_option("--budget", flags.budget,
                                "Bits per weight of the weight matrices, for "
                                "--precision auto (e.g. 4.5)")
                     ->check(finiteNumber(0, false, 64, "> 0 and <= 64"));
  auto *bytes = app.add_option("--budget-bytes", flags.budgetBytes,
                               "Bytes of the weight matrices, for --precision auto")
                    ->check(CLI::PositiveNumber)
                    ->excludes(budget);
  auto *calibration =
      app.add_option("--calibration", flags.calibration,
                     "Text whose activations weigh the errors, for --precision "
                     "auto (default: the bundled models/calibration.txt)");
  auto *sensitivity =
      app.add_option("--sensitivity", flags.sensitivity,
                     "How --precision auto compares tensors: kl (weighted "
                     "squared errors scaled by the KL measured with each tensor "
                     "requantized alone) or mse (the weighted errors alone: "
                     "one calibration run, cruder)")
          ->check(CLI::IsMember({"kl", "mse"}))
          ->capture_default_str();
  sensitivity->needs(precision);
  budget->needs(precision);
  bytes->needs(precision);
  calibration->needs(precision);
  app.add_flag("--explain", flags.explain,
               "Print each weight matrix's type, bytes and (with --precision "
               "auto) cost on stderr before compiling");
  app.add_flag("--no-precision-cache", flags.noPrecisionCache,
               "Choose the mix afresh instead of reusing the cached one")
      ->needs(precision);
}

Result<GgufFile> openModelToCompile(const CompileFlags &flags, const std::string &path,
                                    bool toRun) {
  auto target = chosenTarget(flags);
  if (!target)
    return std::move(target).takeError();
  if (toRun)
    if (Status runnable = (*target)->checkRunnable(); !runnable)
      return makeError("--target ", flags.target, ": ", runnable.message());
  auto file = GgufFile::open(path);
  if (!file || flags.precision.empty()) {
    if (file && flags.explain)
      precision::explainStoredModel(*file);
    return file;
  }
  if (flags.budget <= 0 && flags.budgetBytes == 0)
    return makeError("--precision auto needs --budget BITS_PER_WEIGHT or "
                     "--budget-bytes N");
  precision::PrecisionRequest request;
  request.budgetBitsPerWeight = flags.budget;
  request.budgetBytes = flags.budgetBytes;
  request.calibrationFile = flags.calibration;
  request.explain = flags.explain;
  request.useCache = !flags.noPrecisionCache;
  request.measureKl = flags.sensitivity == "kl";
  std::span<const GgmlType> types = (*target)->decodableWeightTypes();
  request.candidateTypes.assign(types.begin(), types.end());
  auto mixed = precision::mixedPrecisionModel(*file, path, request);
  if (!mixed)
    return std::move(mixed).takeError();
  return GgufFile::open(*mixed);
}

Status applyCompileFlags(const CompileFlags &flags,
                         codegen::CompileOptions &options) {
  auto target = chosenTarget(flags);
  if (!target)
    return std::move(target).takeError();
  options.target = flags.target;
  if (!flags.cudaArch.empty()) {
    if (flags.target != "cuda")
      return makeError("--cuda-arch ", flags.cudaArch, ": only --target cuda emits PTX");
    if (!codegen::cuda::isSupportedArch(flags.cudaArch))
      return makeError("--cuda-arch ", flags.cudaArch,
                       ": kiln's PTX targets sm_75 to sm_90 (sm_80: A100 and newer, "
                       "sm_90: H100/H200)");
    options.cudaArch = flags.cudaArch;
  }
  const auto &known = passes::fusionPassNames();
  for (const std::string &name : flags.disabledPasses) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string &k : known)
        list += (list.empty() ? "" : ", ") + k;
      return makeError("--disable-pass: no pass named '", name,
                       "' (the fusion passes are: ", list, ")");
    }
    options.passes.disabled.insert(name);
  }
  options.passes.fuse = !flags.noFuse;
  options.lower.numerics =
      flags.numerics == "exact" ? codegen::Numerics::Exact : codegen::Numerics::Fast;
  return Status::success();
}

} // namespace kiln::cli
