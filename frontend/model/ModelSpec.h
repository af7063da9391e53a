// ModelSpec: everything the compiler needs to know about a model, read once
// from the GGUF metadata and tensor table and checked there: architecture,
// hyperparameters, and each layer's weights with their types and shapes.
// Nothing downstream looks metadata up by string.
#pragma once

#include "quant/GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

class GgufFile;

enum class ModelFamily {
  Llama, // llama, qwen2 (+ q/k/v biases): RMSNorm, rope, SwiGLU, GQA
  Gpt2,  // LayerNorm with bias, learned positions, GELU, fused QKV
};

// How rope pairs the dimensions of a head: adjacent (x[2i], x[2i+1]) in
// llama.cpp's "normal" mode, halves (x[i], x[i + n/2]) in "NeoX" mode.
enum class RopeMode { None, Normal, Neox };

// A weight as stored in the file: its GGUF name, element type and dims
// (dims[0] = ne[0], the contiguous one).
struct WeightRef {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> dims;

  int64_t rows() const { return dims.size() > 1 ? dims[1] : 1; }
  int64_t cols() const { return dims.empty() ? 1 : dims[0]; }
};

struct LayerWeights {
  WeightRef attnNorm;
  std::optional<WeightRef> attnNormBias;
  // Separate projections (llama) or one fused [n_embd, 3 n_embd] (gpt2).
  std::optional<WeightRef> wq, wk, wv, wqkv;
  std::optional<WeightRef> bq, bk, bv, bqkv;
  WeightRef wo;
  std::optional<WeightRef> bo;
  WeightRef ffnNorm;
  std::optional<WeightRef> ffnNormBias;
  std::optional<WeightRef> ffnGate; // SwiGLU only
  WeightRef ffnUp, ffnDown;
  std::optional<WeightRef> ffnUpBias, ffnDownBias;
};

struct ModelSpec {
  std::string architecture; // general.architecture as in the file
  ModelFamily family = ModelFamily::Llama;
  std::string name;

  uint32_t contextLength = 0;
  uint32_t embeddingLength = 0;
  uint32_t blockCount = 0;
  uint32_t feedForwardLength = 0;
  uint32_t headCount = 0;
  uint32_t headCountKv = 0;
  uint32_t headDim = 0; // per-head width of q and k (and v)
  uint32_t vocabSize = 0;
  float normEpsilon = 0.0f;

  RopeMode ropeMode = RopeMode::None;
  uint32_t ropeDims = 0; // dimensions of each head that rope rotates
  float ropeFreqBase = 10000.0f;
  float ropeFreqScale = 1.0f; // linear scaling: positions are multiplied

  WeightRef tokenEmbedding;
  std::optional<WeightRef> positionEmbedding;
  std::vector<LayerWeights> layers;
  WeightRef outputNorm;
  std::optional<WeightRef> outputNormBias;
  WeightRef output; // == tokenEmbedding's name when the output is tied
  bool tiedOutput = false;

  // Per-tensor precision chosen by `--precision auto` (kiln.precision.*
  // metadata of a mixed model): the type the tensor was requantized from
  // and its predicted cost (KL) in the chosen type. Empty otherwise.
  struct PrecisionChoice {
    std::string sourceType;
    double cost = 0;
  };
  std::map<std::string, PrecisionChoice> precision;

  uint32_t qWidth() const { return headCount * headDim; }
  uint32_t kvWidth() const { return headCountKv * headDim; }

  // Reads and checks the spec; errors name the file, the key or tensor,
  // and what is wrong (missing, wrong type, wrong shape).
  static Result<ModelSpec> fromGguf(const GgufFile &file);
};

const char *modelFamilyName(ModelFamily family);

} // namespace kiln
