// How fast an executor runs a model: prefill and decode tokens per second
// over repeated runs, and where the time goes (seconds per kernel). Shared by
// `kiln bench` and benchmarks/forward_bench.cpp so both time the same way.
#pragma once

#include "Executor.h"
#include "support/Result.h"

#include <cstdint>
#include <vector>

namespace kiln {
class GgufFile;
}

namespace kiln::runtime {

// Rates of repeated runs: the median, and the spread as min and max.
struct RateSummary {
  double median = 0, min = 0, max = 0;
};
RateSummary summarizeRates(std::vector<double> rates);

struct ForwardBenchOptions {
  int64_t promptTokens = 512; // prefilled at position 0
  int64_t decodeTokens = 128; // decoded one by one after the prompt
  int repeats = 3;
};

// Prompt ids spread over the vocabulary, the same on every run (speed does
// not depend on which ids, only on how many).
std::vector<int32_t> benchmarkTokens(int64_t count, int64_t vocabSize);

struct ForwardSpeed {
  RateSummary prefill, decode;                   // tokens per second
  std::vector<double> prefillRates, decodeRates; // one per repeat
};

// One untimed warm-up pass (it faults the mapped weights into memory), then
// `repeats` times: prefill the prompt (in calls of at most maxBatch tokens)
// and decode `decodeTokens` tokens after it. Turns profiling off: timing
// each kernel call would slow what is measured.
Result<ForwardSpeed> measureForwardSpeed(Executor &executor,
                                         const ForwardBenchOptions &options);

// Seconds and calls per kernel (indices of plan.kernelSymbols), for one
// prefill of the prompt and for the decodes after it.
struct KernelProfile {
  std::vector<double> prefillSeconds, decodeSeconds;
  std::vector<uint64_t> prefillCalls, decodeCalls;
};
// One profiled pass, after measureForwardSpeed; leaves profiling off.
Result<KernelProfile> profileForward(Executor &executor,
                                     const ForwardBenchOptions &options);

// Bytes of weights a decoded token reads: every weight tensor the plan
// names, once.
uint64_t weightBytesPerToken(const ExecutionPlan &plan, const GgufFile &weights);

} // namespace kiln::runtime
