#include "Sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace kiln::runtime {

namespace {

std::string show(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// Best first; equal logits in id order, so sorting is deterministic.
bool better(float logitA, int32_t idA, float logitB, int32_t idB) {
  return logitA > logitB || (logitA == logitB && idA < idB);
}
constexpr auto byLogit = [](const auto &a, const auto &b) {
  return better(a.logit, a.id, b.logit, b.id);
};

// exp(logit - max) without NaN when both are infinite: the best tokens weigh
// 1 (all of them, if max is +inf or -inf).
double weight(float logit, float max, double temperature) {
  if (logit == max)
    return 1.0;
  return std::exp((double(logit) - double(max)) / temperature);
}

} // namespace

Result<Sampler> Sampler::create(const SamplerOptions &options,
                                uint32_t vocabSize) {
  if (vocabSize == 0)
    return makeError("sampler: the vocabulary is empty");
  if (vocabSize > uint32_t(std::numeric_limits<int32_t>::max()))
    return makeError("sampler: a vocabulary of ", std::to_string(vocabSize),
                     " tokens does not fit 32-bit token ids");
  if (!std::isfinite(options.temperature))
    return makeError("sampler: temperature must be a finite number, got ",
                     show(options.temperature));
  if (!(options.topP >= 0.0f && options.topP <= 1.0f))
    return makeError("sampler: top-p must be between 0 and 1 (1 turns it "
                     "off), got ", show(options.topP));
  if (!(options.minP >= 0.0f && options.minP <= 1.0f))
    return makeError("sampler: min-p must be between 0 and 1 (0 turns it "
                     "off), got ", show(options.minP));
  if (!(options.repeatPenalty > 0.0f) || !std::isfinite(options.repeatPenalty))
    return makeError("sampler: the repetition penalty must be a positive "
                     "number (1 turns it off), got ",
                     show(options.repeatPenalty));
  if (options.repeatLastN < 0 || options.repeatLastN > kMaxRepeatLastN)
    return makeError("sampler: repeat-last-n must be between 0 and ",
                     std::to_string(kMaxRepeatLastN), ", got ",
                     std::to_string(options.repeatLastN));
  return Sampler(options, vocabSize);
}

Sampler::Sampler(const SamplerOptions &options, uint32_t vocabSize)
    : options_(options), vocabSize_(vocabSize), rng_(options.seed),
      candidates_(vocabSize), recent_(size_t(options.repeatLastN)),
      penalized_(vocabSize, 0) {}

void Sampler::reset() {
  recentCount_ = 0;
  recentNext_ = 0;
  rng_.seed(options_.seed);
}

void Sampler::accept(int32_t token) {
  if (recent_.empty())
    return;
  recent_[recentNext_] = token;
  recentNext_ = (recentNext_ + 1) % recent_.size();
  recentCount_ = std::min(recentCount_ + 1, recent_.size());
}

int32_t Sampler::sample(std::span<const float> logits) {
  size_t n = std::min<size_t>(logits.size(), vocabSize_);
  assert(n > 0 && "Sampler::sample: no logits");
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; ++i) {
    float logit = logits[i];
    candidates_[i] = {std::isnan(logit) ? -INFINITY : logit, int32_t(i)};
  }
  size_ = n;
  sorted_ = false;

  applyRepetitionPenalty(n);
  if (options_.temperature <= 0.0f)
    return argmax();
  keepTopK();
  keepTopP();
  keepMinP();
  return draw();
}

// Candidates are still in id order here, so a token's entry is at its id.
void Sampler::applyRepetitionPenalty(size_t n) {
  float penalty = options_.repeatPenalty;
  if (penalty == 1.0f || recentCount_ == 0)
    return;
  for (size_t i = 0; i < recentCount_; ++i) {
    int32_t token = recent_[i];
    if (token < 0 || size_t(token) >= n || penalized_[token])
      continue;
    penalized_[token] = 1;
    float &logit = candidates_[token].logit;
    logit = logit <= 0.0f ? logit * penalty : logit / penalty;
  }
  for (size_t i = 0; i < recentCount_; ++i) {
    int32_t token = recent_[i];
    if (token >= 0 && size_t(token) < n)
      penalized_[token] = 0;
  }
}

int32_t Sampler::argmax() const {
  size_t best = 0;
  for (size_t i = 1; i < size_; ++i)
    if (better(candidates_[i].logit, candidates_[i].id, candidates_[best].logit,
               candidates_[best].id))
      best = i;
  return candidates_[best].id;
}

void Sampler::keepTopK() {
  if (options_.topK <= 0 || size_t(options_.topK) >= size_)
    return;
  size_t k = size_t(options_.topK);
  auto first = candidates_.begin();
  std::partial_sort(first, first + k, first + size_, byLogit);
  size_ = k;
  sorted_ = true;
}

void Sampler::keepTopP() {
  if (options_.topP >= 1.0f)
    return;
  auto first = candidates_.begin();
  if (!sorted_) {
    std::sort(first, first + size_, byLogit);
    sorted_ = true;
  }
  float max = candidates_[0].logit;
  double total = 0;
  for (size_t i = 0; i < size_; ++i)
    total += weight(candidates_[i].logit, max, 1.0);
  double target = double(options_.topP) * total, mass = 0;
  size_t keep = 0;
  while (keep < size_) {
    mass += weight(candidates_[keep].logit, max, 1.0);
    ++keep;
    if (mass >= target)
      break;
  }
  size_ = keep;
}

void Sampler::keepMinP() {
  if (options_.minP <= 0.0f)
    return;
  float max = sorted_ ? candidates_[0].logit : -INFINITY;
  if (!sorted_)
    for (size_t i = 0; i < size_; ++i)
      max = std::max(max, candidates_[i].logit);
  float threshold = max + std::log(options_.minP);
  if (sorted_) {
    size_t keep = 1;
    while (keep < size_ && candidates_[keep].logit >= threshold)
      ++keep;
    size_ = keep;
  } else { // compact in place, keeping the order (no scratch buffer)
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i)
      if (candidates_[i].logit >= threshold)
        candidates_[kept++] = candidates_[i];
    size_ = kept;
  }
}

int32_t Sampler::draw() {
  float max = candidates_[0].logit;
  if (!sorted_)
    for (size_t i = 1; i < size_; ++i)
      max = std::max(max, candidates_[i].logit);
  // Temperature and softmax in one: the logits become unnormalized weights.
  double temperature = options_.temperature, total = 0;
  for (size_t i = 0; i < size_; ++i) {
    float w = float(weight(candidates_[i].logit, max, temperature));
    candidates_[i].logit = w;
    total += w;
  }
  // 53 random bits in [0, 1), scaled to the total mass.
  double u = double(rng_() >> 11) * 0x1p-53 * total;
  for (size_t i = 0; i < size_; ++i) {
    u -= candidates_[i].logit;
    if (u < 0)
      return candidates_[i].id;
  }
  // Rounding left u at or above the summed weights: the last candidate with
  // any weight.
  for (size_t i = size_; i-- > 0;)
    if (candidates_[i].logit > 0)
      return candidates_[i].id;
  return candidates_[0].id;
}

} // namespace kiln::runtime
