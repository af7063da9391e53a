#include "FusedMatmulParts.h"
#include "Passes.h"

namespace kiln::passes {
#define GEN_PASS_DEF_FUSESWIGLU
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

// The plain matmul that makes `value` and nothing else uses.
MatmulOp soleMatmul(Value value) {
  auto m = value.getDefiningOp<MatmulOp>();
  return m && value.hasOneUse() ? m : MatmulOp();
}

struct FuseSwigluPass : impl::FuseSwigluBase<FuseSwigluPass> {
  void runOnOperation() override {
    SmallVector<MulOp> muls;
    getOperation().walk([&](MulOp mul) { muls.push_back(mul); });
    for (MulOp mul : muls) {
      for (auto [gateSide, upSide] : {std::pair{mul.getLhs(), mul.getRhs()},
                                      std::pair{mul.getRhs(), mul.getLhs()}}) {
        auto silu = gateSide.getDefiningOp<SiluOp>();
        if (!silu || !gateSide.hasOneUse())
          continue;
        MatmulOp gate = soleMatmul(silu.getInput()), up = soleMatmul(upSide);
        if (!gate || !up || gate.getInput() != up.getInput() ||
            gate.getWeight().getType() != up.getWeight().getType() ||
            bool(gate.getBias()) != bool(up.getBias()))
          continue;
        FusedMatmulParts parts = *FusedMatmulParts::of(gate);
        parts.weights.push_back(up.getWeight());
        if (up.getBias())
          parts.biases.push_back(up.getBias());
        parts.epilogue = MatmulEpilogue::swiglu;
        OpBuilder b(mul);
        FusedMatmulOp fused = parts.build(b, mul.getLoc());
        replaceWithFused(mul, fused);
        silu->erase();
        gate->erase();
        up->erase();
        break;
      }
    }
  }
};

} // namespace
} // namespace kiln::passes
