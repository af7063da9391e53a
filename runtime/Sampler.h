// Token sampling from logits, with the semantics of llama.cpp's default CLI
// sampler chain (src/llama-sampling.cpp, common/sampling.cpp), in its order:
//
//   1. repetition penalty: every distinct token among the last repeatLastN
//      accepted ones has its logit divided by repeatPenalty when positive,
//      multiplied by it otherwise (once, however often it occurred);
//   2. top-k: keep the k highest logits (k <= 0: off);
//   3. top-p: softmax over what is left, keep the shortest best-first prefix
//      whose probability mass reaches p (the token crossing p is kept;
//      p >= 1: off; p = 0 keeps one token);
//   4. min-p: keep tokens with probability >= minP * the best one's, i.e.
//      logit >= max + log(minP) (minP <= 0: off);
//   5. temperature: logits / temperature;
//   6. a draw from the softmax of what is left.
//
// llama.cpp's DRY, typical-p, top-n-sigma and XTC stages sit between these
// in its chain and are off by default; they are not implemented.
// Temperature <= 0 is greedy: the argmax after the penalty (the stages in
// between always keep it), ties going to the lowest id.
//
// Ties between equal logits are broken by the lower id everywhere, so the
// result is the same on every standard library. NaN logits count as -inf.
// The draw uses std::mt19937_64 seeded with `seed` and 53-bit uniforms, so
// the same seed and logits give the same tokens everywhere (not the same
// tokens as llama.cpp, whose generator and draw differ).
//
// Scratch space is allocated once by create(); sample() and accept()
// allocate nothing.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace kiln::runtime {

struct SamplerOptions {
  float temperature = 0.8f;   // <= 0: greedy
  int topK = 40;              // <= 0: off
  float topP = 0.95f;         // in [0, 1]; 1: off
  float minP = 0.05f;         // in [0, 1]; 0: off
  float repeatPenalty = 1.0f; // > 0; 1: off
  int repeatLastN = 64;       // tokens of history the penalty looks at; 0: off
  uint64_t seed = 0;
};

class Sampler {
public:
  // The longest penalty window accepted (its ring buffer is allocated here).
  static constexpr int kMaxRepeatLastN = 1 << 20;

  // Checks the options; the error names the option, its value and the range.
  static Result<Sampler> create(const SamplerOptions &options,
                                uint32_t vocabSize);

  // Picks the next token from one row of logits (vocabSize values; a shorter
  // row is read as the first ids of the vocabulary, a longer one is cut).
  int32_t sample(std::span<const float> logits);
  // Records a token of the context (prompt or generated) for the penalty.
  void accept(int32_t token);
  // Forgets the history and restarts the generator from the seed.
  void reset();

  const SamplerOptions &options() const { return options_; }
  uint32_t vocabSize() const { return vocabSize_; }

private:
  Sampler(const SamplerOptions &options, uint32_t vocabSize);

  struct Candidate {
    float logit;
    int32_t id;
  };

  void applyRepetitionPenalty(size_t n);
  int32_t argmax() const;
  void keepTopK();
  void keepTopP();
  void keepMinP();
  int32_t draw();

  SamplerOptions options_;
  uint32_t vocabSize_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_; // capacity vocabSize, never grown
  size_t size_ = 0;                   // candidates still in the running
  bool sorted_ = false;               // candidates_[0, size_) best first
  std::vector<int32_t> recent_;       // ring of the last repeatLastN tokens
  size_t recentCount_ = 0, recentNext_ = 0;
  std::vector<uint8_t> penalized_;    // per id, cleared after each use
};

} // namespace kiln::runtime
