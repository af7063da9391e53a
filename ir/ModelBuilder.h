// Lowers a ModelSpec into the kiln dialect: a module with two functions that
// share the weights and the KV cache,
//   func.func @prefill(%tokens: tensor<?xi32>, %pos: index) -> logits
//   func.func @decode(%token: tensor<1xi32>, %pos: index) -> logits
// whose bodies read top to bottom like the model.
#pragma once

#include "model/ModelSpec.h"
#include "support/Result.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace kiln::ir {

struct BuildOptions {
  // prefill returns the logits of every token (teacher forcing, perplexity)
  // instead of only the last one's.
  bool allLogits = false;
};

// Module attributes the runtime reads to size its buffers.
inline constexpr const char *kAttrArchitecture = "kiln.architecture";
inline constexpr const char *kAttrContextLength = "kiln.context_length";
inline constexpr const char *kAttrVocabSize = "kiln.vocab_size";
inline constexpr const char *kAttrNumLayers = "kiln.num_layers";
inline constexpr const char *kAttrKvWidth = "kiln.kv_width";

// Loads the dialects the builder uses into `context`.
void loadKilnDialects(mlir::MLIRContext &context);

Result<mlir::OwningOpRef<mlir::ModuleOp>>
buildModel(mlir::MLIRContext &context, const ModelSpec &spec,
           const BuildOptions &options = {});

} // namespace kiln::ir
