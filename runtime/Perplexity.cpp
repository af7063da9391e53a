#include "Perplexity.h"

#include <algorithm>
#include <cmath>

namespace kiln::runtime {

void PerplexityScore::add(std::span<const float> logits,
                          std::span<const int32_t> targets, size_t vocab) {
  for (size_t i = 0; i < targets.size(); ++i) {
    const float *row = logits.data() + i * vocab;
    float max = *std::max_element(row, row + vocab);
    double sum = 0;
    for (size_t v = 0; v < vocab; ++v)
      sum += std::exp(row[v] - max);
    double nll = std::log(sum) - (row[targets[i]] - max);
    nll_ += nll;
    nll2_ += nll * nll;
    ++count_;
  }
}

double PerplexityScore::perplexity() const { return std::exp(meanNll()); }

double PerplexityScore::perplexityError() const {
  if (count_ < 2)
    return 0;
  double mean = meanNll(), mean2 = nll2_ / count_;
  double variance = std::max(0.0, mean2 - mean * mean);
  return perplexity() * std::sqrt(variance / (count_ - 1));
}

} // namespace kiln::runtime
