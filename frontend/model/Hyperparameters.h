// The scalar hyperparameters a model declares, and the one definition of
// their GGUF keys and of the values kiln accepts: the loader (ModelSpec)
// checks them as read from GGUF metadata, the converter as it derives them
// from config.json, so a file `kiln convert` writes is one kiln loads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln {

enum class Hparam {
  // Counts, stored as uint32.
  ContextLength,
  EmbeddingLength,
  BlockCount,
  FeedForwardLength,
  HeadCount,
  HeadCountKv,
  KeyLength,
  ValueLength,
  RopeDimensionCount,
  // Reals, stored as float32.
  RmsNormEpsilon,
  LayerNormEpsilon,
  RopeFreqBase,
  RopeScalingFactor,
};

// The GGUF key after "<arch>.", e.g. "context_length".
std::string_view hparamKey(Hparam h);
// Whether the value is a count (uint32) rather than a real (float32).
bool hparamIsCount(Hparam h);
// Whether the loader needs the key (no default stands in for it).
bool hparamRequired(Hparam h);

// Why kiln refuses `value` for `h`, phrased to follow the field's name
// ("is 0, out of range [1, 16777216]"), or nullopt when it is accepted.
// Reals are judged as the float32 the file stores.
std::optional<std::string> hparamProblem(Hparam h, double value);

} // namespace kiln
