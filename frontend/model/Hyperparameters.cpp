#include "Hyperparameters.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace kiln {

namespace {

// Limits well beyond any real model; they keep hostile files from asking
// for absurd buffers later.
constexpr uint64_t kMaxWidth = 1u << 20;
constexpr uint64_t kMaxLayers = 1u << 12;
constexpr uint64_t kMaxContext = 1u << 24;

enum class RealRule { NonNegative, Positive };

struct Rule {
  Hparam hparam;
  std::string_view key;
  bool required;
  uint64_t maxCount; // 0 for a real
  RealRule real;
};

constexpr Rule kRules[] = {
    {Hparam::ContextLength, "context_length", true, kMaxContext, {}},
    {Hparam::EmbeddingLength, "embedding_length", true, kMaxWidth, {}},
    {Hparam::BlockCount, "block_count", true, kMaxLayers, {}},
    {Hparam::FeedForwardLength, "feed_forward_length", true, kMaxWidth, {}},
    {Hparam::HeadCount, "attention.head_count", true, kMaxWidth, {}},
    {Hparam::HeadCountKv, "attention.head_count_kv", false, kMaxWidth, {}},
    {Hparam::KeyLength, "attention.key_length", false, kMaxWidth, {}},
    {Hparam::ValueLength, "attention.value_length", false, kMaxWidth, {}},
    {Hparam::RopeDimensionCount, "rope.dimension_count", false, kMaxWidth, {}},
    // An epsilon of 0 is exact arithmetic; a negative one can make the
    // variance plus epsilon negative and the norm NaN.
    {Hparam::RmsNormEpsilon, "attention.layer_norm_rms_epsilon", false, 0,
     RealRule::NonNegative},
    {Hparam::LayerNormEpsilon, "attention.layer_norm_epsilon", false, 0,
     RealRule::NonNegative},
    // Rope frequencies are base^(-2i/d): a base of 0 or less gives
    // infinities or NaN.
    {Hparam::RopeFreqBase, "rope.freq_base", false, 0, RealRule::Positive},
    // Positions are divided by the factor.
    {Hparam::RopeScalingFactor, "rope.scaling.factor", false, 0,
     RealRule::Positive},
};

const Rule &ruleOf(Hparam h) {
  for (const Rule &rule : kRules)
    if (rule.hparam == h)
      return rule;
  return kRules[0]; // unreachable: every Hparam has a rule
}

std::string numberText(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<int64_t>(value));
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

} // namespace

std::string_view hparamKey(Hparam h) { return ruleOf(h).key; }
bool hparamIsCount(Hparam h) { return ruleOf(h).maxCount != 0; }
bool hparamRequired(Hparam h) { return ruleOf(h).required; }

std::optional<std::string> hparamProblem(Hparam h, double value) {
  const Rule &rule = ruleOf(h);
  if (rule.maxCount != 0) {
    if (value >= 1 && value <= static_cast<double>(rule.maxCount) &&
        value == std::floor(value))
      return std::nullopt;
    return "is " + numberText(value) + ", out of range [1, " +
           std::to_string(rule.maxCount) + "]";
  }
  double stored = static_cast<float>(value);
  if (!std::isfinite(stored))
    return "is " + numberText(value) + ", not a finite float32";
  if (rule.real == RealRule::Positive && !(stored > 0))
    return "is " + numberText(value) + ", not a positive number";
  if (rule.real == RealRule::NonNegative && stored < 0)
    return "is " + numberText(value) + ", a negative number";
  return std::nullopt;
}

} // namespace kiln
