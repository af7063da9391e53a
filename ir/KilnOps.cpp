// Verifiers of the kiln ops: shapes and attributes must agree, so that
// codegen can trust them.
#include "KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "quant/GgmlType.h"

using namespace mlir;
using namespace kiln::ir;

namespace {

int64_t rowsOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getDimSize(0);
}
int64_t colsOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getDimSize(1);
}
WeightType weightOf(Value value) { return cast<WeightType>(value.getType()); }

bool rowsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

// A vector weight (norm scale, bias) of `width` f32 elements.
LogicalResult verifyVector(Operation *op, Value weight, int64_t width,
                           StringRef what) {
  WeightType type = weightOf(weight);
  if (type.getShape().size() != 1 || type.getCols() != width)
    return op->emitOpError() << what << " must be a vector of " << width
                             << " elements, got " << type;
  return success();
}

} // namespace

LogicalResult EmbeddingOp::verify() {
  WeightType table = weightOf(getTable());
  if (table.getShape().size() != 2)
    return emitOpError("table must be 2-D");
  if (colsOf(getResult()) != table.getCols())
    return emitOpError() << "result has " << colsOf(getResult())
                         << " columns, the table " << table.getCols();
  auto ids = cast<RankedTensorType>(getIds().getType());
  if (!rowsCompatible(ids.getDimSize(0), rowsOf(getResult())))
    return emitOpError("one result row per id expected");
  return success();
}

LogicalResult RmsNormOp::verify() {
  if (getEpsilon().isNegative())
    return emitOpError("epsilon must not be negative");
  return verifyVector(*this, getWeight(), colsOf(getInput()), "weight");
}

LogicalResult LayerNormOp::verify() {
  if (getEpsilon().isNegative())
    return emitOpError("epsilon must not be negative");
  if (failed(verifyVector(*this, getWeight(), colsOf(getInput()), "weight")))
    return failure();
  return verifyVector(*this, getBias(), colsOf(getInput()), "bias");
}

LogicalResult MatmulOp::verify() {
  WeightType weight = weightOf(getWeight());
  if (weight.getShape().size() != 2)
    return emitOpError("weight must be 2-D");
  if (colsOf(getInput()) != weight.getCols())
    return emitOpError() << "input has " << colsOf(getInput())
                         << " columns but the weight rows have "
                         << weight.getCols();
  if (colsOf(getResult()) != weight.getRows())
    return emitOpError() << "result has " << colsOf(getResult())
                         << " columns but the weight has " << weight.getRows()
                         << " rows";
  if (!rowsCompatible(rowsOf(getInput()), rowsOf(getResult())))
    return emitOpError("input and result row counts differ");
  if (getBias())
    return verifyVector(*this, getBias(), weight.getRows(), "bias");
  return success();
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim(), ropeDims = getRopeDims();
  if (headDim <= 0 || colsOf(getInput()) % headDim != 0)
    return emitOpError() << "width " << colsOf(getInput())
                         << " is not a whole number of heads of " << headDim;
  if (ropeDims <= 0 || ropeDims > headDim || ropeDims % 2 != 0)
    return emitOpError("rope_dims must be even and within the head");
  if (!(getFreqBase().convertToFloat() > 0.0f) ||
      !(getFreqScale().convertToFloat() > 0.0f))
    return emitOpError("freq_base and freq_scale must be positive");
  return success();
}

namespace {
template <typename AttentionLike> LogicalResult verifyAttention(AttentionLike op) {
  int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads(),
          headDim = op.getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
    return op.emitOpError("num_heads must be a positive multiple of num_kv_heads");
  if (colsOf(op.getQuery()) != heads * headDim)
    return op.emitOpError() << "query width " << colsOf(op.getQuery())
                            << " != num_heads * head_dim = " << heads * headDim;
  if (colsOf(op.getKey()) != kvHeads * headDim)
    return op.emitOpError() << "key width " << colsOf(op.getKey())
                            << " != num_kv_heads * head_dim = "
                            << kvHeads * headDim;
  if (!rowsCompatible(rowsOf(op.getQuery()), rowsOf(op.getKey())))
    return op.emitOpError("query and key row counts differ");
  if (op.getLayer() < 0)
    return op.emitOpError("layer must not be negative");
  return success();
}
} // namespace

LogicalResult AttentionOp::verify() { return verifyAttention(*this); }
LogicalResult FlashAttentionOp::verify() { return verifyAttention(*this); }

LogicalResult FusedMatmulOp::verify() {
  auto weights = getWeights();
  if (weights.empty())
    return emitOpError("needs at least one weight");
  int64_t K = colsOf(getInput());
  std::optional<kiln::GgmlType> inputForm;
  for (Value w : weights) {
    WeightType type = weightOf(w);
    if (type.getShape().size() != 2 || type.getCols() != K)
      return emitOpError() << "every weight must be 2-D with rows of the input's "
                           << K << " columns, got " << type;
    // One input conversion serves all weights (llama.cpp's vec_dot_type).
    auto form = kiln::vecDotType(static_cast<kiln::GgmlType>(type.getFormat()));
    if (inputForm && form != inputForm)
      return emitOpError("weights need different input conversions");
    inputForm = form;
  }
  if (!getBiases().empty() && getBiases().size() != weights.size())
    return emitOpError("biases: none or one per weight");
  for (auto [w, b] : llvm::zip(weights, getBiases()))
    if (failed(verifyVector(*this, b, weightOf(w).getRows(), "bias")))
      return failure();
  MatmulEpilogue epilogue = getEpilogue();
  size_t expected = epilogue == MatmulEpilogue::swiglu ? 1 : weights.size();
  if (epilogue == MatmulEpilogue::swiglu &&
      (weights.size() != 2 ||
       weightOf(weights[0]).getShape() != weightOf(weights[1]).getShape()))
    return emitOpError("swiglu needs two weights of one shape");
  if (getResults().size() != expected)
    return emitOpError() << "expected " << expected << " results, got "
                         << getResults().size();
  for (auto [i, result] : llvm::enumerate(getResults())) {
    int64_t rows = weightOf(weights[epilogue == MatmulEpilogue::swiglu ? 0 : i]).getRows();
    if (colsOf(result) != rows)
      return emitOpError() << "result #" << i << " has " << colsOf(result)
                           << " columns, its weight " << rows << " rows";
    if (!rowsCompatible(rowsOf(getInput()), rowsOf(result)))
      return emitOpError("input and result row counts differ");
  }
  if (getNormWeight()) {
    if (!getNormEpsilon())
      return emitOpError("a norm prologue needs norm_epsilon");
    if (failed(verifyVector(*this, getNormWeight(), K, "norm weight")))
      return failure();
    if (getNormBias() && failed(verifyVector(*this, getNormBias(), K, "norm bias")))
      return failure();
  } else if (getNormBias()) {
    return emitOpError("a norm bias without a norm weight");
  }
  if (getResidual() && (getResults().size() != 1 ||
                        getResidual().getType() != getResults()[0].getType()))
    return emitOpError("a residual needs a single result of its type");
  if (auto rope = getRopeResults()) {
    if (rope->size() != getResults().size())
      return emitOpError("rope_results: one flag per result");
    if (!getPosition() || !getRopeHeadDim() || !getRopeDims() ||
        !getRopeFreqBase() || !getRopeFreqScale())
      return emitOpError("rope needs position, rope_head_dim, rope_dims, "
                         "rope_freq_base and rope_freq_scale");
    int64_t headDim = *getRopeHeadDim(), dims = *getRopeDims();
    if (headDim <= 0 || dims <= 0 || dims > headDim || dims % 2 != 0)
      return emitOpError("rope_dims must be even and within the head");
    for (auto [flag, result] : llvm::zip(*rope, getResults()))
      if (flag && colsOf(result) % headDim != 0)
        return emitOpError("a roped result must be whole heads");
  }
  return success();
}

LogicalResult SliceColumnsOp::verify() {
  int64_t offset = getOffset(), size = colsOf(getResult());
  if (offset < 0 || offset + size > colsOf(getInput()))
    return emitOpError() << "columns [" << offset << ", " << offset + size
                         << ") are outside the input's "
                         << colsOf(getInput());
  if (!rowsCompatible(rowsOf(getInput()), rowsOf(getResult())))
    return emitOpError("input and result row counts differ");
  return success();
}

LogicalResult LastRowOp::verify() {
  if (rowsOf(getResult()) != 1 || colsOf(getResult()) != colsOf(getInput()))
    return emitOpError("result must be one row as wide as the input");
  return success();
}

#define GET_OP_CLASSES
#include "KilnOps.cpp.inc"
