#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FLASHATTENTION
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

struct FlashAttentionPass : impl::FlashAttentionBase<FlashAttentionPass> {
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp a) { ops.push_back(a); });
    for (AttentionOp a : ops) {
      OpBuilder b(a);
      auto flash = b.create<FlashAttentionOp>(
          a.getLoc(), a.getType(), a.getQuery(), a.getKey(), a.getValue(),
          a.getPosition(), a.getLayerAttr(), a.getNumHeadsAttr(),
          a.getNumKvHeadsAttr(), a.getHeadDimAttr(), a.getScaleAttr());
      a.getResult().replaceAllUsesWith(flash.getResult());
      a->erase();
    }
  }
};

} // namespace
} // namespace kiln::passes
