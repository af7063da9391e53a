// Quantizes a whole GGUF model as llama-quantize does: the recipe picks each
// tensor's type, tensors come out in llama-quantize's order, the metadata is
// copied with general.quantization_version and general.file_type moved to
// the end. The output is written to a temporary file and renamed.
#pragma once

#include "QuantRecipe.h"
#include "gguf/GgufFile.h"
#include "gguf/GgufWriter.h"
#include "support/Result.h"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace kiln {

// ggml's GGML_QNT_VERSION, the layout version of the quantized blocks.
inline constexpr uint32_t kQuantizationVersion = 2;

struct TensorPlan {
  size_t source;      // index in the input's tensor table
  GgmlType type;      // type written
  bool convert;       // false: the bytes are copied as they are
  std::optional<GgmlType> preferred; // the recipe's type, when it fell back
};

struct QuantizePlan {
  std::vector<TensorPlan> tensors; // in output order
  // Quantized input tensors that are converted (dequantized first).
  std::vector<size_t> requantized;
};

// Chooses every tensor's type and checks that each conversion is possible,
// before anything is written.
Result<QuantizePlan> planQuantization(const GgufFile &input,
                                      const RecipeInfo &recipe,
                                      const RecipeOptions &options);

struct QuantizeOptions {
  RecipeInfo recipe;
  RecipeOptions recipeOptions;
  unsigned threads = 0; // 0: all cores
  GgufWriter::Progress progress;
};

// Writes `plan` (from planQuantization on `input`, or any per-tensor
// choice of types) to `outputPath`; `extraMetadata` comes after
// general.file_type (e.g. how a mix was chosen).
Status writeQuantized(
    const GgufFile &input, const QuantizePlan &plan, const QuantizeOptions &options,
    const std::string &outputPath,
    std::span<const std::pair<std::string, GgufValue>> extraMetadata = {});

} // namespace kiln
