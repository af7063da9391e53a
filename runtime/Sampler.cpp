#include "Sampler.h"

#include <algorithm>
#include <cmath>

namespace kiln::runtime {

Result<Sampler> Sampler::create(const SamplerOptions &options,
                                uint32_t vocabSize) {
  if (vocabSize == 0)
    return makeError("sampler: empty vocabulary");
  if (!std::isfinite(options.temperature))
    return makeError("sampler: temperature must be a finite number");
  if (!(options.topP > 0.0f) || !std::isfinite(options.topP))
    return makeError("sampler: top-p must be in (0, 1]");
  if (options.minP < 0.0f || options.minP > 1.0f)
    return makeError("sampler: min-p must be in [0, 1]");
  if (!(options.repeatPenalty > 0.0f) || !std::isfinite(options.repeatPenalty))
    return makeError("sampler: the repetition penalty must be positive");
  if (options.repeatLastN < 0)
    return makeError("sampler: repeat-last-n must not be negative");
  return Sampler(options, vocabSize);
}

Sampler::Sampler(const SamplerOptions &options, uint32_t vocabSize)
    : options_(options), vocabSize_(vocabSize), rng_(options.seed) {
  candidates_.reserve(vocabSize);
  recent_.reserve(options.repeatLastN);
  penalized_.assign(vocabSize, 0);
}

void Sampler::reset() {
  recent_.clear();
  recentNext_ = 0;
  rng_.seed(options_.seed);
}

void Sampler::accept(int32_t token) {
  if (options_.repeatLastN == 0)
    return;
  if (recent_.size() < size_t(options_.repeatLastN)) {
    recent_.push_back(token);
  } else {
    recent_[recentNext_] = token;
    recentNext_ = (recentNext_ + 1) % recent_.size();
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  size_t n = std::min<size_t>(logits.size(), vocabSize_);
  candidates_.clear();
  for (size_t i = 0; i < n; ++i)
    candidates_.emplace_back(logits[i], int32_t(i));

  // Repetition penalty, once per distinct recent token.
  if (options_.repeatPenalty != 1.0f) {
    for (int32_t token : recent_) {
      if (token < 0 || size_t(token) >= n || penalized_[token])
        continue;
      penalized_[token] = 1;
      float &logit = candidates_[token].first;
      logit = logit > 0 ? logit / options_.repeatPenalty
                        : logit * options_.repeatPenalty;
    }
    for (int32_t token : recent_)
      if (token >= 0 && size_t(token) < n)
        penalized_[token] = 0;
  }

  auto byLogit = [](const auto &a, const auto &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  if (options_.temperature <= 0.0f)
    return std::min_element(candidates_.begin(), candidates_.end(), byLogit)
        ->second;

  // Top-k: keep the k best, sorted best first.
  size_t keep = candidates_.size();
  if (options_.topK > 0 && size_t(options_.topK) < keep)
    keep = size_t(options_.topK);
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep,
                    candidates_.end(), byLogit);
  candidates_.resize(keep);

  // Top-p on the softmax of what is left: the shortest prefix whose mass
  // reaches p.
  float maxLogit = candidates_.front().first;
  if (options_.topP < 1.0f) {
    double total = 0;
    for (auto &c : candidates_)
      total += std::exp(double(c.first - maxLogit));
    double mass = 0;
    size_t prefix = 0;
    while (prefix < candidates_.size()) {
      mass += std::exp(double(candidates_[prefix].first - maxLogit)) / total;
      ++prefix;
      if (mass >= options_.topP)
        break;
    }
    candidates_.resize(std::max<size_t>(prefix, 1));
  }
  // Min-p: drop tokens less likely than min_p times the best one.
  if (options_.minP > 0.0f) {
    float threshold = maxLogit + std::log(options_.minP);
    size_t kept = 1;
    while (kept < candidates_.size() && candidates_[kept].first >= threshold)
      ++kept;
    candidates_.resize(kept);
  }

  // Temperature, then a draw.
  double total = 0;
  std::vector<std::pair<float, int32_t>> &c = candidates_;
  for (auto &candidate : c) {
    candidate.first = float(std::exp(double(candidate.first - maxLogit) /
                                     options_.temperature));
    total += candidate.first;
  }
  // 53 random bits in [0, 1): the same draw for the same seed everywhere.
  double u = double(rng_() >> 11) * 0x1p-53 * total;
  for (auto &candidate : c) {
    u -= candidate.first;
    if (u < 0)
      return candidate.second;
  }
  return c.back().second;
}

} // namespace kiln::runtime
