#include "codegen/Target.h"

#include "codegen/QuantizedActivations.h"

namespace kiln::codegen {

MatmulInputForm Target::matmulInput(GgmlType weights, const LowerOptions &lower) const {
  MatmulInputForm form;
  form.numerics = lower.numerics;
  if (lower.integerDots)
    form.quantized = integerDotActivations(weights);
  // llama.cpp's CPU path converts the input of f16/bf16/quantized weights
  // to its vec_dot_type before the dot products; f32 weights read f32.
  if (!form.quantized && lower.matchLlamaCppActivations)
    if (std::optional<GgmlType> type = vecDotType(weights); type && *type != GgmlType::F32)
      form.rounding = type;
  return form;
}

} // namespace kiln::codegen
