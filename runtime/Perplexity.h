// Perplexity as llama.cpp's perplexity tool measures it: the text's tokens
// in chunks of n_ctx, the first token of each chunk replaced by BOS (when
// the model adds one), every position's logits evaluated in one pass, and
// only the second half of each chunk scored (so each scored token has at
// least n_ctx / 2 tokens of context): position j's logits predict token
// j + 1, for j in [n_ctx / 2, n_ctx - 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kiln::runtime {

class PerplexityScore {
public:
  // Adds the negative log-likelihoods of targets[i] under logits row i
  // (rows of `vocab` floats; log-softmax with the maximum subtracted and
  // the exponentials summed in double, as llama.cpp).
  void add(std::span<const float> logits, std::span<const int32_t> targets,
           size_t vocab);

  size_t count() const { return count_; }
  double meanNll() const { return count_ ? nll_ / count_ : 0; }
  double perplexity() const;
  // The standard error of the perplexity, llama.cpp's estimate:
  // ppl * sqrt(var(nll) / (count - 1)).
  double perplexityError() const;

private:
  double nll_ = 0, nll2_ = 0;
  size_t count_ = 0;
};

} // namespace kiln::runtime
