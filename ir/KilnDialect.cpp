#include "KilnDialect.h"

#include "quant/GgmlType.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln::ir;

#include "KilnDialect.cpp.inc"
#include "KilnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "KilnAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "KilnTypes.cpp.inc"

void KilnDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "KilnTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "KilnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "KilnOps.cpp.inc"
      >();
}

LogicalResult WeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, WeightFormat format) {
  if (shape.empty() || shape.size() > 2)
    return emitError() << "weight must have 1 or 2 dimensions, got "
                       << shape.size();
  for (int64_t dim : shape)
    if (dim <= 0)
      return emitError() << "weight dimensions must be positive";
  // WeightFormat values are ggml type ids.
  const auto &info = kiln::ggmlTypeInfo(static_cast<kiln::GgmlType>(format));
  if (shape.back() % info.blockSize != 0)
    return emitError() << "row length " << shape.back()
                       << " is not a multiple of the " << info.name.data()
                       << " block size " << info.blockSize;
  return success();
}
