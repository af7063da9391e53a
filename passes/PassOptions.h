// Which graph passes run. A header without MLIR, so that the runtime-side
// tools (kiln bench, kiln run) can name passes without the compiler headers.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace kiln::passes {

struct PassOptions {
  bool fuse = true;                // false: no fusion pass runs (--no-fuse)
  std::set<std::string> disabled;  // pass names (--disable-pass=NAME)

  bool enabled(const std::string &name) const {
    return fuse && !disabled.count(name);
  }
};

// The fusion passes in the order the pipeline runs them; the names are
// those of `kiln-opt --NAME` and of --disable-pass.
const std::vector<std::string> &fusionPassNames();

} // namespace kiln::passes
