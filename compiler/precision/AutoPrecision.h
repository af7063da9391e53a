// `--precision auto`: per-tensor mixed precision chosen at compile time.
// The model runs over a calibration text (Calibration.h). Each weight
// tensor's cost in every type the target decodes is its
// activation-weighted squared error (QuantError.h), which ranks the types
// of one tensor; to compare tensors, that error is scaled to the KL
// divergence of the logits measured with only this tensor requantized (to
// the type nearest 4.5 bits), so every cost is a predicted KL and the
// costs of tensors add up (to second order, independent errors do). The
// chooser (PrecisionChooser.h) picks the cheapest mix within the
// budget; the mix is written, from the file's own values, as a GGUF in the
// cache and compiled like any model. The choices and costs are recorded in
// that file's metadata (kiln.precision.*), so a cached mix explains itself.
#pragma once

#include "gguf/GgufFile.h"
#include "quant/GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::precision {

struct PrecisionRequest {
  double budgetBitsPerWeight = 0; // one of the two budgets is set
  uint64_t budgetBytes = 0;
  std::string calibrationFile;    // empty: the bundled models/calibration.txt
  bool explain = false;           // print the per-tensor table on stderr
  bool useCache = true;           // reuse a mix made before
  // false: costs are the weighted squared errors alone, not scaled by the
  // measured KL (one calibration run instead of one per tensor).
  bool measureKl = true;
  // The types a matrix may take: the target's decodable weight types
  // (Target::decodableWeightTypes), best first.
  std::vector<GgmlType> candidateTypes;
};

// The path of the mixed model made from `model` (opened from `path`).
Result<std::string> mixedPrecisionModel(const GgufFile &model, const std::string &path,
                                        const PrecisionRequest &request);

// The per-tensor table of a model as stored (no choice made): tensor, type,
// bytes, and the bits per weight of the matrices.
void explainStoredModel(const GgufFile &model);

} // namespace kiln::precision
