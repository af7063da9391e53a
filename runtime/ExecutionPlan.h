// The execution plan: what the compiler hands the runtime. It names the
// generated kernels, the weights, the activation buffers, and for each entry
// point (prefill, decode) the kernel calls in order, with their arguments.
// Plain data, no LLVM: a JIT fills it in process, an AOT artifact stores it.
// It says what runs, not how a device schedules it (no task counts, no
// launch shapes: each target's kernels carry their own).
#pragma once

#include "runtime/WeightLayout.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::runtime {

// Where a kernel argument lives.
enum class SlotKind : uint8_t {
  Tokens,     // the token ids of the call (int32)
  Weight,     // weight `index` of the plan, read from the GGUF mapping
  Activation, // activation buffer `index`
  KeyCache,   // K cache of layer `index`
  ValueCache, // V cache of layer `index`
};

struct Slot {
  SlotKind kind;
  uint32_t index = 0;
};

struct Step {
  uint32_t kernel = 0;     // index into ExecutionPlan::kernelSymbols
  std::vector<Slot> args;  // in the order the kernel reads them
  bool singleRow = false;  // runs on the last token only (rows = 1)
  std::string label;       // for profiles and errors, e.g. "blk.0.attn_q"
};

struct EntryPoint {
  std::vector<Step> steps;
  uint32_t logits = 0;        // activation buffer holding the result
  bool allRows = false;       // logits for every token, else the last
};

struct ActivationBuffer {
  int64_t cols = 0;           // elements per row
  uint32_t elementBytes = 4;  // f32 activations, i32 ids
  bool singleRow = false;     // holds one row whatever the batch
  bool holdsFloats = true;    // false: quantized blocks or ids, not f32 values
};

struct ExecutionPlan {
  std::vector<std::string> kernelSymbols;
  std::vector<std::string> weightNames; // GGUF tensor names
  // The layout each weight is loaded in (weightLayouts[i] for
  // weightNames[i]; missing entries are Gguf). A tensor two kernels read in
  // different layouts is listed once per layout.
  std::vector<WeightLayout> weightLayouts;
  std::vector<ActivationBuffer> buffers;
  int64_t numLayers = 0;
  int64_t kvWidth = 0;        // elements per token per layer, K and V each
  uint32_t kvElementBytes = 4; // 2: the cache holds f16
  int64_t contextLength = 0;  // positions the KV cache holds
  int64_t vocabSize = 0;
  EntryPoint prefill;
  EntryPoint decode;
};

} // namespace kiln::runtime
