#include "FusedMatmulParts.h"
#include "Passes.h"

#include "quant/GgmlType.h"

#include <map>

namespace kiln::passes {
#define GEN_PASS_DEF_FUSEQKV
#include "Passes.h.inc"

namespace {

using namespace mlir;
using namespace kiln::ir;

struct FuseQkvPass : impl::FuseQkvBase<FuseQkvPass> {
  void runOnOperation() override {
    // Plain matmuls grouped by input, input conversion and bias or not, in
    // program order.
    using Key = std::tuple<void *, int, bool>;
    std::map<Key, SmallVector<MatmulOp>> groups;
    std::vector<Key> order;
    getOperation().walk([&](MatmulOp m) {
      auto format = static_cast<GgmlType>(m.getWeight().getType().getFormat());
      Key key{m.getInput().getAsOpaquePointer(),
              int(vecDotType(format).value_or(GgmlType::F32)), bool(m.getBias())};
      auto &group = groups[key];
      if (group.empty())
        order.push_back(key);
      group.push_back(m);
    });
    for (const Key &key : order) {
      SmallVector<MatmulOp> &group = groups[key];
      if (group.size() < 2)
        continue;
      FusedMatmulParts parts = *FusedMatmulParts::of(group.front());
      for (MatmulOp m : ArrayRef(group).drop_front()) {
        parts.weights.push_back(m.getWeight());
        if (m.getBias())
          parts.biases.push_back(m.getBias());
        parts.resultTypes.push_back(m.getResult().getType());
      }
      // At the first matmul: the input is defined before it, and the
      // results are first used after it.
      OpBuilder b(group.front());
      FusedMatmulOp fused = parts.build(b, group.front().getLoc());
      for (auto [m, result] : llvm::zip(group, fused.getResults())) {
        m.getResult().replaceAllUsesWith(result);
        m->erase();
      }
    }
  }
};

} // namespace
} // namespace kiln::passes
