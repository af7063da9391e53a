// The machine's memory read bandwidth, measured by streaming through a
// buffer far larger than the caches on the threads of a pool: decode reads
// every weight once per token, so bandwidth / bytes per token is the decode
// ceiling (the roofline) that kiln bench reports a fraction of.
#pragma once

#include "runtime/cpu/ThreadPool.h"

#include <cstddef>

namespace kiln::eval {

struct BandwidthProbeOptions {
  size_t bytes = size_t(1) << 30; // far past any last-level cache
  int passes = 3;                 // the best pass counts
};

// Bytes read per second (best pass), every worker of `pool` reading its own
// contiguous slice.
double measureReadBandwidth(runtime::ThreadPool &pool, const BandwidthProbeOptions &options = {});

} // namespace kiln::eval
