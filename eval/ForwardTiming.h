// How fast an executor runs a model: prefill and decode tokens per second
// over repeated runs, and where the time goes (seconds per kernel). Shared by
// `kiln bench` and benchmarks/forward_bench.cpp so both time the same way.
#pragma once

#include "runtime/Executor.h"
#include "support/Result.h"

#include <cstdint>
#include <vector>

namespace kiln {
class GgufFile;
}

namespace kiln::eval {

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

// One untimed pass, prompt and a decode: it faults the mapped weights into
// memory and wakes the threads. Turns profiling off: timing each kernel
// call would slow what is measured.
Status warmUp(runtime::Executor &executor, const ForwardBenchOptions &options);

// One timed repeat: prefill the prompt at position 0 (in calls of at most
// maxBatch tokens), then decode `decodeTokens` tokens after it.
struct ForwardRates {
  double prefill = 0, decode = 0; // tokens per second
};
Result<ForwardRates> timeForwardOnce(runtime::Executor &executor,
                                     const ForwardBenchOptions &options);

struct ForwardSpeed {
  RateSummary prefill, decode;                   // tokens per second
  std::vector<double> prefillRates, decodeRates; // one per repeat
  void add(const ForwardRates &rates); // appends a repeat, updates the summaries
};

// warmUp, then `repeats` times timeForwardOnce. (kiln bench --compare-fusion
// interleaves the repeats of its configurations instead, so drift in the
// machine's load hits them all alike.)
Result<ForwardSpeed> measureForwardSpeed(runtime::Executor &executor,
                                         const ForwardBenchOptions &options);

// Seconds and calls per kernel (indices of plan.kernelSymbols), for one
// prefill of the prompt and for the decodes after it.
struct KernelProfile {
  std::vector<double> prefillSeconds, decodeSeconds;
  std::vector<uint64_t> prefillCalls, decodeCalls;
};
// One profiled pass, after measureForwardSpeed; leaves profiling off.
Result<KernelProfile> profileForward(runtime::Executor &executor,
                                     const ForwardBenchOptions &options);

// Bytes of weights a decoded token reads: every weight tensor the plan
// names, once.
uint64_t weightBytesPerToken(const runtime::ExecutionPlan &plan, const GgufFile &weights);

} // namespace kiln::eval
