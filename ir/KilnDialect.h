// The kiln dialect: types, attributes and ops (generated from the .td files).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "KilnDialect.h.inc"
#include "KilnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "KilnAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "KilnTypes.h.inc"

namespace kiln::ir {

// The KV cache, as a side-effect resource: attention ops read and write it,
// so they are neither hoisted, merged nor erased.
struct KVCacheResource
    : public mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "kiln.kv_cache"; }
};

} // namespace kiln::ir

#define GET_OP_CLASSES
#include "KilnOps.h.inc"
