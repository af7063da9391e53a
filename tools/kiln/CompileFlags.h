// The options every compiling command shares (run, perplexity, compile,
// bench): which passes run. One place, so each command spells them alike.
#pragma once

#include "CpuPipeline.h"
#include "gguf/GgufFile.h"
#include "support/Result.h"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace kiln::cli {

struct CompileFlags {
  bool noFuse = false;
  std::vector<std::string> disabledPasses;
};

void addCompileFlags(CLI::App &app, CompileFlags &flags);

// The model file the command compiles and runs: `path` itself today; with
// per-layer precision flags, the requantized model made from it.
Result<GgufFile> openModelToCompile(const CompileFlags &flags,
                                    const std::string &path);

// Checks the pass names and sets options.passes.
Status applyCompileFlags(const CompileFlags &flags,
                         codegen::CpuCompileOptions &options);

} // namespace kiln::cli
