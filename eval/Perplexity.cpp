#include "eval/Perplexity.h"

#include <algorithm>
#include <cmath>

namespace kiln::eval {

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

namespace {

// log softmax(row) in double, with the maximum subtracted first.
void logSoftmax(const float *row, size_t vocab, std::vector<double> &out) {
  float max = *std::max_element(row, row + vocab);
  double sum = 0;
  for (size_t v = 0; v < vocab; ++v)
    sum += std::exp(double(row[v]) - max);
  double logSum = std::log(sum);
  out.resize(vocab);
  for (size_t v = 0; v < vocab; ++v)
    out[v] = double(row[v]) - max - logSum;
}

size_t argmax(const float *row, size_t vocab) {
  return size_t(std::max_element(row, row + vocab) - row);
}

} // namespace

void KlScore::add(std::span<const float> baseLogits,
                  std::span<const float> modelLogits, size_t vocab) {
  size_t rows = std::min(baseLogits.size(), modelLogits.size()) / vocab;
  std::vector<double> base, model;
  for (size_t i = 0; i < rows; ++i) {
    const float *b = baseLogits.data() + i * vocab;
    const float *m = modelLogits.data() + i * vocab;
    logSoftmax(b, vocab, base);
    logSoftmax(m, vocab, model);
    double kl = 0;
    for (size_t v = 0; v < vocab; ++v)
      kl += std::exp(base[v]) * (base[v] - model[v]);
    divergences_.push_back(kl);
    sameTop_ += argmax(b, vocab) == argmax(m, vocab);
  }
  sorted_.clear();
}

double KlScore::meanKl() const {
  if (divergences_.empty())
    return 0;
  double sum = 0;
  for (double kl : divergences_)
    sum += kl;
  return sum / divergences_.size();
}

double KlScore::klError() const {
  size_t n = divergences_.size();
  if (n < 2)
    return 0;
  double mean = meanKl(), sum2 = 0;
  for (double kl : divergences_)
    sum2 += kl * kl;
  double variance = std::max(0.0, sum2 / n - mean * mean);
  return std::sqrt(variance / (n - 1));
}

double KlScore::maxKl() const {
  return divergences_.empty()
             ? 0
             : *std::max_element(divergences_.begin(), divergences_.end());
}

double KlScore::klQuantile(double q) const {
  if (divergences_.empty())
    return 0;
  if (sorted_.size() != divergences_.size()) {
    sorted_ = divergences_;
    std::sort(sorted_.begin(), sorted_.end());
  }
  double at = std::clamp(q, 0.0, 1.0) * double(sorted_.size() - 1);
  size_t low = size_t(at);
  size_t high = std::min(low + 1, sorted_.size() - 1);
  return sorted_[low] + (at - double(low)) * (sorted_[high] - sorted_[low]);
}

double KlScore::top1Agreement() const {
  return divergences_.empty() ? 0 : double(sameTop_) / divergences_.size();
}

double KlScore::top1Error() const {
  size_t n = divergences_.size();
  if (n < 2)
    return 0;
  double p = top1Agreement();
  return std::sqrt(p * (1 - p) / (n - 1));
}

} // namespace kiln::eval
