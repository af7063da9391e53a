#include "FusedMatmulParts.h"
#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FUSERESIDUAL
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

// `value` is available at `op`: a block argument or defined before it.
bool availableAt(Value value, Operation *op) {
  Operation *def = value.getDefiningOp();
  return !def || (def->getBlock() == op->getBlock() && def->isBeforeInBlock(op));
}

struct FuseResidualPass : impl::FuseResidualBase<FuseResidualPass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp a) { adds.push_back(a); });
    for (AddOp add : adds) {
      for (auto [product, residual] : {std::pair{add.getRhs(), add.getLhs()},
                                       std::pair{add.getLhs(), add.getRhs()}}) {
        Operation *producer = product.getDefiningOp();
        auto parts = producer ? FusedMatmulParts::of(producer) : std::nullopt;
        if (!parts || !product.hasOneUse() || parts->resultTypes.size() != 1 ||
            parts->residual || !availableAt(residual, producer))
          continue;
        parts->residual = residual;
        OpBuilder b(producer);
        FusedMatmulOp fused = parts->build(b, producer->getLoc());
        add.getResult().replaceAllUsesWith(fused.getResult(0));
        add->erase();
        producer->erase();
        break;
      }
    }
  }
};

} // namespace
} // namespace kiln::passes
