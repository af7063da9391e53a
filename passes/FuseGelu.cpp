#include "FusedMatmulParts.h"
#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FUSEGELU
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

struct FuseGeluPass : impl::FuseGeluBase<FuseGeluPass> {
  void runOnOperation() override {
    SmallVector<GeluOp> gelus;
    getOperation().walk([&](GeluOp g) { gelus.push_back(g); });
    for (GeluOp gelu : gelus) {
      Value product = gelu.getInput();
      Operation *producer = product.getDefiningOp();
      auto parts = producer ? FusedMatmulParts::of(producer) : std::nullopt;
      // One plain product, not yet rotated or added to.
      if (!parts || !product.hasOneUse() || parts->resultTypes.size() != 1 ||
          parts->epilogue != MatmulEpilogue::none || parts->residual ||
          !parts->ropeResults.empty())
        continue;
      parts->epilogue = MatmulEpilogue::gelu;
      OpBuilder b(producer);
      FusedMatmulOp fused = parts->build(b, producer->getLoc());
      gelu.getResult().replaceAllUsesWith(fused.getResult(0));
      gelu->erase();
      producer->erase();
    }
  }
};

} // namespace
} // namespace kiln::passes
