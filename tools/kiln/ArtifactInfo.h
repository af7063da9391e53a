// `kiln info FILE.kiln`: what an AOT artifact holds (its meta, the plan's
// size, the weights it stores) and, with --verify, whether every section,
// the weights included, still matches its SHA-256.
#pragma once

#include <string>

namespace kiln::cli {

// Prints the description (text, or one JSON object); the exit code.
int describeArtifact(const std::string &path, bool verify, bool json);

} // namespace kiln::cli
