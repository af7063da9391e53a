// The activation arena: every activation buffer of a plan gets an offset
// in one block of memory, and buffers that are never live at the same time
// share addresses. The plan gives each value its own buffer; this is where
// their memory is reused.
//
// A buffer is live from the first to the last step of an entry point that
// names it, both ends included: a kernel may write its output while it
// still reads its inputs, so the buffers of one step never overlap. Prefill
// and decode never run at once, so they share the arena, and activations
// carry nothing from one call to the next (the KV cache does). The logits
// buffer stays live past the entry's last step: the caller reads it after
// the call returns, until the next call.
#pragma once

#include "ExecutionPlan.h"
#include "support/Result.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace kiln::runtime {

// Buffer sizes and offsets are multiples of this, and so is the arena's
// base address: a cache line, and the widest vector load (AVX-512).
inline constexpr uint64_t kArenaAlignment = 64;

// Steps [first, last] of one entry point, inclusive; last == steps.size()
// is the moment after the call returns (the logits buffer).
struct LiveRange {
  uint32_t first = 0;
  uint32_t last = 0;
};

struct BufferPlacement {
  uint64_t bytes = 0;  // rows x cols x elementBytes, rounded up to 64
  uint64_t offset = 0; // in the arena
  std::optional<LiveRange> prefill, decode; // none: not used by that entry
  bool used() const { return prefill || decode; }
};

struct MemoryPlan {
  std::vector<BufferPlacement> buffers; // as plan.buffers
  uint64_t arenaBytes = 0;    // the arena: every buffer in place
  uint64_t unsharedBytes = 0; // every buffer in a block of its own
};

// True when two buffers are live at the same time in some entry point.
bool livesOverlap(const BufferPlacement &a, const BufferPlacement &b);

// Lifetimes and offsets for activations of up to `maxBatch` rows. Fails
// when a step names an activation buffer the plan lacks.
Result<MemoryPlan> planMemory(const ExecutionPlan &plan, int64_t maxBatch);

} // namespace kiln::runtime
