#include "FusedMatmulParts.h"

namespace kiln::passes {

using namespace mlir;
using namespace kiln::ir;

std::optional<FusedMatmulParts> FusedMatmulParts::of(Operation *op) {
  FusedMatmulParts parts;
  if (auto m = dyn_cast<MatmulOp>(op)) {
    parts.input = m.getInput();
    parts.weights.push_back(m.getWeight());
    if (m.getBias())
      parts.biases.push_back(m.getBias());
    parts.resultTypes.push_back(m.getResult().getType());
    return parts;
  }
  auto f = dyn_cast<FusedMatmulOp>(op);
  if (!f)
    return std::nullopt;
  parts.input = f.getInput();
  parts.weights.assign(f.getWeights().begin(), f.getWeights().end());
  parts.biases.assign(f.getBiases().begin(), f.getBiases().end());
  parts.normWeight = f.getNormWeight();
  parts.normBias = f.getNormBias();
  parts.residual = f.getResidual();
  parts.position = f.getPosition();
  if (auto eps = f.getNormEpsilon())
    parts.normEpsilon = eps->convertToFloat();
  parts.epilogue = f.getEpilogue();
  if (auto rope = f.getRopeResults()) {
    parts.ropeResults.assign(rope->begin(), rope->end());
    parts.ropeHeadDim = *f.getRopeHeadDim();
    parts.ropeDims = *f.getRopeDims();
    parts.ropeFreqBase = f.getRopeFreqBase()->convertToFloat();
    parts.ropeFreqScale = f.getRopeFreqScale()->convertToFloat();
  }
  for (Value r : f.getResults())
    parts.resultTypes.push_back(r.getType());
  return parts;
}

FusedMatmulOp FusedMatmulParts::build(OpBuilder &b, Location loc) const {
  Operation *anchor = &*b.getInsertionPoint();
  SmallVector<Value> weightOperands(weights);
  weightOperands.append(biases.begin(), biases.end());
  weightOperands.append({normWeight, normBias});
  for (Value v : weightOperands)
    if (v)
      if (auto w = v.getDefiningOp<WeightOp>())
        if (w->getBlock() == anchor->getBlock() && anchor->isBeforeInBlock(w))
          w->moveBefore(anchor);
  auto op = b.create<FusedMatmulOp>(
      loc, resultTypes, input, weights, biases, normWeight, normBias, residual,
      position,
      normEpsilon ? b.getF32FloatAttr(*normEpsilon) : FloatAttr(),
      MatmulEpilogueAttr::get(b.getContext(), epilogue),
      ropeResults.empty() ? DenseBoolArrayAttr() : b.getDenseBoolArrayAttr(ropeResults),
      ropeResults.empty() ? IntegerAttr() : b.getI64IntegerAttr(ropeHeadDim),
      ropeResults.empty() ? IntegerAttr() : b.getI64IntegerAttr(ropeDims),
      ropeResults.empty() ? FloatAttr() : b.getF32FloatAttr(ropeFreqBase),
      ropeResults.empty() ? FloatAttr() : b.getF32FloatAttr(ropeFreqScale));
  return op;
}

void replaceWithFused(Operation *op, FusedMatmulOp fused) {
  op->replaceAllUsesWith(fused.getResults());
  op->erase();
}

} // namespace kiln::passes
