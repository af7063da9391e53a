// The options every compiling command shares (run, perplexity, compile,
// bench): the target, which passes run, and per-tensor mixed precision.
// One place, so each command spells them alike.
#pragma once

#include "codegen/Compile.h"
#include "gguf/GgufFile.h"
#include "support/Result.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cli {

struct CompileFlags {
  // --target: any known name passes parsing (an unknown one is a usage
  // error); one not built yet is refused by openModelToCompile and
  // applyCompileFlags before any work.
  std::string target = "cpu";
  bool noFuse = false;
  std::vector<std::string> disabledPasses;
  // --precision auto: choose each weight's type within a budget of bits
  // per weight (--budget) or bytes (--budget-bytes) of the weight matrices.
  std::string precision;
  double budget = 0;
  uint64_t budgetBytes = 0;
  std::string calibration;
  bool explain = false;
  bool noPrecisionCache = false;
  std::string sensitivity = "kl";
  // --cuda-arch: the GPU architecture of --target cuda's PTX ("sm_90").
  std::string cudaArch;
  // --numerics: "fast" or "exact" (codegen::Numerics); empty when not
  // given, which is fast (so a run of an artifact can refuse it).
  std::string numerics;
};

void addCompileFlags(CLI::App &app, CompileFlags &flags);

// The model file the command compiles and runs: `path` itself, or with
// --precision auto the mixed-precision model made from it
// (compiler/precision/AutoPrecision.h).
// With --explain, the per-tensor table goes to stderr first. A target that
// is not built is refused first, and with `toRun` one this machine cannot
// run (no device or driver: Target::checkRunnable).
Result<GgufFile> openModelToCompile(const CompileFlags &flags,
                                    const std::string &path, bool toRun = true);

// Checks the target and the pass names and sets options.target and
// options.passes.
Status applyCompileFlags(const CompileFlags &flags,
                         codegen::CompileOptions &options);

} // namespace kiln::cli
