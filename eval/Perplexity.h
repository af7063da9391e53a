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
#include <vector>

namespace kiln::eval {

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

// How far a model's next-token distributions are from a base model's on the
// same positions, as llama.cpp's perplexity tool measures with
// --kl-divergence: per scored token KL(base || model) over the whole
// vocabulary (both log-softmaxes in double, the maximum subtracted), and
// whether the two distributions have the same most likely token.
class KlScore {
public:
  // Rows of `vocab` floats; base and model hold the same number of rows.
  void add(std::span<const float> baseLogits, std::span<const float> modelLogits,
           size_t vocab);

  size_t count() const { return divergences_.size(); }
  double meanKl() const;
  // Standard error of the mean: sqrt(var / (count - 1)), as llama.cpp.
  double klError() const;
  double maxKl() const;
  // The q-quantile (0 <= q <= 1) of the per-token divergences, linearly
  // interpolated between the sorted values (q = 0.5: the median).
  double klQuantile(double q) const;
  // The fraction of tokens (0..1) whose most likely token (the first
  // maximum) is the same under both models, and its binomial standard
  // error sqrt(p (1 - p) / (count - 1)).
  double top1Agreement() const;
  double top1Error() const;

private:
  std::vector<double> divergences_;
  mutable std::vector<double> sorted_; // cache for klQuantile
  size_t sameTop_ = 0;
};

} // namespace kiln::eval
