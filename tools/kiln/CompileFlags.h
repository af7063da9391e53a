// The options every compiling command shares (run, perplexity, compile,
// bench): which passes run. One place, so each command spells them alike.
#pragma once

#include "CpuPipeline.h"
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

// Checks the pass names and sets options.passes.
Status applyCompileFlags(const CompileFlags &flags,
                         codegen::CpuCompileOptions &options);

} // namespace kiln::cli
