// `kiln compile MODEL -o FILE.kiln`: the model compiled ahead of time into
// an artifact (runtime/artifact/Artifact.h) that `kiln run FILE.kiln` runs
// without compiling.
#pragma once

#include "CompileFlags.h"
#include "gguf/GgufFile.h"

#include <string>

namespace kiln::cli {

struct ArtifactRequest {
  std::string model;  // the GGUF's path as given
  std::string output; // the artifact
  std::string cpu;    // LLVM CPU name or "native"
  bool allLogits = false;
  bool embedWeights = false; // every weight in the artifact
  bool repackAtLoad = false; // repacked weights left to each load
};

// Writes the artifact, then a one-line summary on stderr; the exit code.
// `file` is the model compiled: request.model itself, or the mix
// --precision auto made from it.
int compileArtifact(const GgufFile &file, const CompileFlags &flags,
                    const ArtifactRequest &request);

} // namespace kiln::cli
