// Token sampling from logits, with the chain llama.cpp's CLI uses by
// default: repetition penalty, top-k, top-p, min-p, temperature, then a draw
// from the softmax with a seeded generator. Temperature <= 0 is greedy.
// Scratch space is allocated once; sampling a token allocates nothing.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace kiln::runtime {

struct SamplerOptions {
  float temperature = 0.8f;
  int topK = 40;          // <= 0: off
  float topP = 0.95f;     // >= 1: off
  float minP = 0.05f;     // <= 0: off
  float repeatPenalty = 1.0f; // 1: off
  int repeatLastN = 64;
  uint64_t seed = 0;
};

class Sampler {
public:
  static Result<Sampler> create(const SamplerOptions &options,
                                uint32_t vocabSize);

  // Picks the next token from one row of logits.
  int32_t sample(std::span<const float> logits);
  // Records a token of the context (prompt or generated) for the penalty.
  void accept(int32_t token);
  void reset();

private:
  Sampler(const SamplerOptions &options, uint32_t vocabSize);

  SamplerOptions options_;
  uint32_t vocabSize_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_; // (logit, id)
  std::vector<int32_t> recent_;                      // ring of last N
  size_t recentNext_ = 0;
  std::vector<uint8_t> penalized_;
};

} // namespace kiln::runtime
