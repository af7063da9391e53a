#include "FusedMatmulParts.h"
#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FUSENORM
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

// Moves the norm making `normalized` into the prologue of its users, when
// every user is a matmul that reads it as its input and has no prologue.
void fuseInto(Operation *norm, Value normalized, Value input, Value weight,
              Value bias, float epsilon) {
  SmallVector<Operation *> users(normalized.getUsers());
  for (Operation *user : users) {
    auto parts = FusedMatmulParts::of(user);
    if (!parts || parts->normWeight || parts->input != normalized ||
        parts->residual == normalized)
      return;
  }
  for (Operation *user : users) {
    auto parts = *FusedMatmulParts::of(user);
    parts.input = input;
    parts.normWeight = weight;
    parts.normBias = bias;
    parts.normEpsilon = epsilon;
    OpBuilder b(user);
    replaceWithFused(user, parts.build(b, user->getLoc()));
  }
  norm->erase();
}

struct FuseNormPass : impl::FuseNormBase<FuseNormPass> {
  void runOnOperation() override {
    SmallVector<Operation *> norms;
    getOperation().walk([&](Operation *op) {
      if (isa<RmsNormOp, LayerNormOp>(op))
        norms.push_back(op);
    });
    for (Operation *op : norms) {
      if (auto n = dyn_cast<RmsNormOp>(op))
        fuseInto(n, n.getResult(), n.getInput(), n.getWeight(), Value(),
                 n.getEpsilon().convertToFloat());
      else if (auto n = dyn_cast<LayerNormOp>(op))
        fuseInto(n, n.getResult(), n.getInput(), n.getWeight(), n.getBias(),
                 n.getEpsilon().convertToFloat());
    }
  }
};

} // namespace
} // namespace kiln::passes
