#include "CompileFlags.h"

#include "passes/PassOptions.h"

#include <algorithm>

namespace kiln::cli {

void addCompileFlags(CLI::App &app, CompileFlags &flags) {
  app.add_flag("--no-fuse", flags.noFuse, "Run no fusion pass");
  std::string names;
  for (const std::string &name : passes::fusionPassNames())
    names += (names.empty() ? "" : ", ") + name;
  app.add_option("--disable-pass", flags.disabledPasses,
                 "Skip one fusion pass (repeatable): " + names)
      ->delimiter(',');
}

Result<GgufFile> openModelToCompile(const CompileFlags &, const std::string &path) {
  return GgufFile::open(path);
}

Status applyCompileFlags(const CompileFlags &flags,
                         codegen::CpuCompileOptions &options) {
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
  return Status::success();
}

} // namespace kiln::cli
