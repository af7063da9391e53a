// NaN or Inf in a model's weights turn its logits non-finite, and a sampler
// fed such logits prints token 0 forever with exit 0. The commands check
// every call's logits and, when they are not finite, replay the call once
// with an observer to name the first kernel whose output went bad.
#pragma once

#include "ExecutionPlan.h"
#include "support/Result.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace kiln::runtime {

class Executor;

struct NonFiniteValue {
  size_t index; // into the span
  float value;
};

std::optional<NonFiniteValue> findNonFinite(std::span<const float> values);

// Runs `replay` (the prefill or decode call whose logits were not finite,
// made again with the same arguments) with a step observer on `executor`,
// and describes the first step whose f32 output holds a NaN or an
// infinity: "prefill step 7 'blk.0.attn_q' (row 2, column 13: nan)". The
// observer is removed afterwards.
std::string locateNonFinite(Executor &executor, const ExecutionPlan &plan,
                            const std::function<void()> &replay);

// Success when every logit is finite; otherwise an error naming `source`
// (the model), `what` (the positions the call evaluated), the bad value and
// the first kernel output that went bad (found by `replay`).
Status checkLogitsFinite(Executor &executor, const ExecutionPlan &plan,
                         std::span<const float> logits, const std::string &source,
                         const std::string &what, const std::function<void()> &replay);

// "nan", "inf" or "-inf".
std::string nonFiniteText(float value);

} // namespace kiln::runtime
