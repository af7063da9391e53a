#include "PassOptions.h"

namespace kiln::passes {

const std::vector<std::string> &fusionPassNames() {
  // Pipeline order: passes that group matmuls run before those that add
  // epilogues and prologues to them; swiglu before qkv, which would
  // otherwise take gate and up as two results of one matmul.
  static const std::vector<std::string> names = {
      "kiln-fuse-swiglu", "kiln-fuse-qkv", "kiln-fuse-gelu",
      "kiln-fuse-rope", "kiln-fuse-residual", "kiln-fuse-norm",
      "kiln-flash-attention"};
  return names;
}

} // namespace kiln::passes
