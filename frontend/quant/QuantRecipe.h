// Quantization recipes as llama-quantize defines them: a file type (the
// `general.file_type` number) names a base tensor type, and rules by tensor
// name and layer give some tensors more bits (output.weight in q6_K, attn_v
// and ffn_down in the layers where it pays, ...). Rows that are not a whole
// number of blocks fall back to a type whose block fits.
#pragma once

#include "GgmlType.h"
#include "gguf/GgufMetadata.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// llama.cpp's llama_ftype numbers, stored as u32 general.file_type.
enum class FileType : uint32_t {
  AllF32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  BF16 = 32,
  Mixed = 1024, // llama.cpp's LLAMA_FTYPE_GUESSED: no single recipe
};

struct RecipeInfo {
  std::string_view name; // as llama-quantize spells it, e.g. "Q4_K_M"
  FileType fileType;
  GgmlType baseType;
};

// Case-insensitive; also takes the aliases Q3_K, Q4_K, Q5_K (the _M mixes).
std::optional<RecipeInfo> findRecipe(std::string_view name);
std::span<const RecipeInfo> allRecipes();

// What the rules need to know about the model, read once from its metadata
// and tensor names (llama.cpp reads the same from its hparams).
struct RecipeModel {
  std::string architecture;
  int layerCount = 0;
  uint32_t headCount = 0, headCountKv = 0;
  uint32_t expertCount = 0;
  bool hasOutput = false;   // an output.weight of its own (else tied)
  int attentionVCount = 0;  // tensors holding attention values (attn_v...)

  static RecipeModel from(const GgufMetadata &metadata,
                          std::span<const std::string> tensorNames);
};

struct RecipeOptions {
  bool pure = false; // every quantized tensor in the base type
  std::optional<GgmlType> outputType;
  std::optional<GgmlType> tokenEmbeddingType;
};

// Whether llama-quantize converts this tensor at all: 2-D or larger weights,
// not norms, gating or positional tables. `dims` as in the file.
bool isQuantizedTensor(std::string_view name, std::span<const int64_t> dims);

// Chooses each tensor's type. The attention-value and ffn_down rules count
// tensors as they come, so call choose() in llama-quantize's tensor order.
class RecipePlanner {
public:
  RecipePlanner(RecipeInfo recipe, RecipeModel model, RecipeOptions options)
      : recipe_(recipe), model_(std::move(model)), options_(options) {}

  struct Choice {
    GgmlType type;
    std::optional<GgmlType> preferred; // set when a fallback replaced it
  };
  // The type of a tensor that isQuantizedTensor() accepts, before the
  // "same as the source type: copy" check.
  Choice choose(std::string_view name, int64_t rowLength);

private:
  GgmlType mixedType(std::string_view name, int64_t rowLength);

  RecipeInfo recipe_;
  RecipeModel model_;
  RecipeOptions options_;
  int attentionVSeen_ = 0;
  int ffnDownSeen_ = 0;
};

// The tensor order llama-quantize writes: tensors outside blk.N first, then
// by layer number, by name within a layer.
std::vector<size_t> llamaTensorOrder(std::span<const std::string> names);

} // namespace kiln
