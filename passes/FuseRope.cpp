#include "FusedMatmulParts.h"
#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FUSEROPE
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

struct FuseRopePass : impl::FuseRopeBase<FuseRopePass> {
  void runOnOperation() override {
    SmallVector<RopeOp> ropes;
    getOperation().walk([&](RopeOp r) { ropes.push_back(r); });
    for (RopeOp rope : ropes) {
      auto product = dyn_cast<OpResult>(rope.getInput());
      if (!product || !product.hasOneUse() || rope.getMode() != RopeMode::normal)
        continue;
      Operation *producer = product.getOwner();
      auto parts = FusedMatmulParts::of(producer);
      // Rotation comes after every other epilogue step but the residual.
      if (!parts || parts->residual || parts->epilogue != MatmulEpilogue::none)
        continue;
      unsigned index = product.getResultNumber();
      bool first = parts->ropeResults.empty();
      if (!first && (parts->position != rope.getPosition() ||
                     parts->ropeHeadDim != int64_t(rope.getHeadDim()) ||
                     parts->ropeDims != int64_t(rope.getRopeDims()) ||
                     parts->ropeFreqBase != rope.getFreqBase().convertToFloat() ||
                     parts->ropeFreqScale != rope.getFreqScale().convertToFloat()))
        continue; // one set of rope parameters per fused matmul
      // The position must be available where the matmul is.
      Value position = rope.getPosition();
      if (Operation *def = position.getDefiningOp();
          def && (def->getBlock() != producer->getBlock() ||
                  !def->isBeforeInBlock(producer)))
        continue;
      if (first)
        parts->ropeResults.assign(parts->resultTypes.size(), false);
      parts->ropeResults[index] = true;
      parts->position = position;
      parts->ropeHeadDim = rope.getHeadDim();
      parts->ropeDims = rope.getRopeDims();
      parts->ropeFreqBase = rope.getFreqBase().convertToFloat();
      parts->ropeFreqScale = rope.getFreqScale().convertToFloat();
      OpBuilder b(producer);
      FusedMatmulOp fused = parts->build(b, producer->getLoc());
      rope.getResult().replaceAllUsesWith(fused.getResult(index));
      rope->erase();
      replaceWithFused(producer, fused);
    }
  }
};

} // namespace
} // namespace kiln::passes
