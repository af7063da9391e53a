// Verifiers of the kiln ops: shapes and attributes must agree, so that
// codegen can trust them.
#include "KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

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

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
    return emitOpError("num_heads must be a positive multiple of num_kv_heads");
  if (colsOf(getQuery()) != heads * headDim)
    return emitOpError() << "query width " << colsOf(getQuery())
                         << " != num_heads * head_dim = " << heads * headDim;
  if (colsOf(getKey()) != kvHeads * headDim)
    return emitOpError() << "key width " << colsOf(getKey())
                         << " != num_kv_heads * head_dim = "
                         << kvHeads * headDim;
  if (!rowsCompatible(rowsOf(getQuery()), rowsOf(getKey())))
    return emitOpError("query and key row counts differ");
  if (getLayer() < 0)
    return emitOpError("layer must not be negative");
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
