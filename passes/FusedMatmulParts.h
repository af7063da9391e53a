// The pieces of a kiln.fused_matmul as plain values, so that a pass can
// take a matmul (plain or fused), change one piece and build its
// replacement without repeating the other pieces' bookkeeping.
#pragma once

#include "KilnDialect.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace kiln::passes {

struct FusedMatmulParts {
  mlir::Value input;
  llvm::SmallVector<mlir::Value> weights, biases;
  mlir::Value normWeight, normBias, residual, position;
  std::optional<float> normEpsilon;
  ir::MatmulEpilogue epilogue = ir::MatmulEpilogue::none;
  llvm::SmallVector<bool> ropeResults; // empty: no rope
  int64_t ropeHeadDim = 0, ropeDims = 0;
  float ropeFreqBase = 0, ropeFreqScale = 0;
  llvm::SmallVector<mlir::Type> resultTypes;

  // A plain kiln.matmul or a kiln.fused_matmul; nullopt for other ops.
  static std::optional<FusedMatmulParts> of(mlir::Operation *op);

  // Builds the kiln.fused_matmul at the builder's insertion point, first
  // moving any weight op that is defined after it up to it (weights have
  // no operands, so this is always legal).
  ir::FusedMatmulOp build(mlir::OpBuilder &builder, mlir::Location loc) const;
};

// Replaces `op`'s results by `fused`'s (in order) and erases `op`.
void replaceWithFused(mlir::Operation *op, ir::FusedMatmulOp fused);

} // namespace kiln::passes
