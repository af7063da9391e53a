#include "Passes.h"

#include "mlir/Pass/PassManager.h"

#include <functional>
#include <map>

namespace kiln::passes {

Status runPasses(mlir::ModuleOp module, const PassOptions &options) {
  static const std::map<std::string, std::function<std::unique_ptr<mlir::Pass>()>>
      factories = {
          {"kiln-fuse-swiglu", createFuseSwiglu},
          {"kiln-fuse-qkv", createFuseQkv},
          {"kiln-fuse-gelu", createFuseGelu},
          {"kiln-fuse-rope", createFuseRope},
          {"kiln-fuse-residual", createFuseResidual},
          {"kiln-fuse-norm", createFuseNorm},
          {"kiln-flash-attention", createFlashAttention},
      };
  mlir::PassManager manager(module->getContext());
  auto &functions = manager.nest<mlir::func::FuncOp>();
  for (const std::string &name : fusionPassNames())
    if (options.enabled(name))
      functions.addPass(factories.at(name)());
  if (mlir::failed(manager.run(module)))
    return makeError("internal error: the kiln passes failed on the graph");
  return Status::success();
}

} // namespace kiln::passes
