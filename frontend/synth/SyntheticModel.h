// Random-weight Llama-architecture models of real shapes, for benchmarks:
// large models cannot be downloaded on our machines, but their speed depends
// only on shapes and types, not on what the weights learned.
#pragma once

#include "quant/GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace kiln {

class GgufFile;

struct LlamaShape {
  std::string_view name;
  uint32_t embeddingLength;
  uint32_t blockCount;
  uint32_t headCount;
  uint32_t headCountKv;
  uint32_t feedForwardLength;
  uint32_t vocabSize; // 0: whatever the vocabulary file holds
  uint32_t contextLength;
  float rmsNormEpsilon;
  float ropeFreqBase;
  // No output.weight: the logits reuse token_embd (as tied checkpoints).
  bool tiedOutput = false;
};

std::span<const LlamaShape> llamaPresets();
const LlamaShape *findLlamaPreset(std::string_view name);

struct SynthOptions {
  const LlamaShape *shape = nullptr;
  GgmlType type = GgmlType::F32; // of the matrices; norms stay f32
  uint64_t seed = 1;
  float stddev = 0.02f;
  unsigned threads = 0; // 0: all cores
  // Called after each tensor is written: (tensors done, tensors in all).
  std::function<void(size_t, size_t)> progress;
};

// The types synth can write.
bool isSynthType(GgmlType type);

// Writes the model to `outPath` (atomically), taking every `tokenizer.*` key
// from `vocab`.
Status writeSyntheticLlama(const SynthOptions &options, const GgufFile &vocab,
                           const std::string &outPath);

} // namespace kiln
