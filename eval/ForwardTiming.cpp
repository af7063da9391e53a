#include "eval/ForwardTiming.h"

#include "gguf/GgufFile.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <span>
#include <string>
#include <utility>

namespace kiln::eval {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status checkFits(const runtime::Executor &executor, const ForwardBenchOptions &options) {
  if (options.promptTokens < 1 || options.decodeTokens < 1 || options.repeats < 1)
    return makeError("benchmark: prompt tokens, decode tokens and repeats must be "
                     "at least 1");
  if (options.promptTokens + options.decodeTokens > executor.contextLength())
    return makeError("benchmark: ", std::to_string(options.promptTokens),
                     " prompt tokens and ", std::to_string(options.decodeTokens),
                     " decoded tokens do not fit the executor's ",
                     std::to_string(executor.contextLength()), "-token context");
  return Status::success();
}

Status prefillAll(runtime::Executor &executor, std::span<const int32_t> tokens) {
  for (size_t done = 0; done < tokens.size();) {
    size_t count = std::min<size_t>(tokens.size() - done, size_t(executor.maxBatch()));
    auto logits = executor.prefill(tokens.subspan(done, count), int64_t(done));
    if (!logits)
      return std::move(logits).takeError();
    done += count;
  }
  return Status::success();
}

// Decodes after the prompt, feeding the prompt's ids again (any ids do).
Status decodeAll(runtime::Executor &executor, std::span<const int32_t> tokens,
                 int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    auto logits = executor.decode(tokens[size_t(i) % tokens.size()],
                                  int64_t(tokens.size()) + i);
    if (!logits)
      return std::move(logits).takeError();
  }
  return Status::success();
}

} // namespace

RateSummary summarizeRates(std::vector<double> rates) {
  RateSummary summary;
  if (rates.empty())
    return summary;
  std::sort(rates.begin(), rates.end());
  size_t half = rates.size() / 2;
  summary.median = rates.size() % 2 ? rates[half] : (rates[half - 1] + rates[half]) / 2;
  summary.min = rates.front();
  summary.max = rates.back();
  return summary;
}

std::vector<int32_t> benchmarkTokens(int64_t count, int64_t vocabSize) {
  std::vector<int32_t> tokens(size_t(std::max<int64_t>(count, 0)));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = int32_t((int64_t(i) * 7919 + 13) % std::max<int64_t>(vocabSize, 1));
  return tokens;
}

Status warmUp(runtime::Executor &executor, const ForwardBenchOptions &options) {
  KILN_TRY(checkFits(executor, options));
  executor.setProfiling(false);
  std::vector<int32_t> tokens = benchmarkTokens(options.promptTokens, executor.vocabSize());
  KILN_TRY(prefillAll(executor, tokens));
  return decodeAll(executor, tokens, 1);
}

Result<ForwardRates> timeForwardOnce(runtime::Executor &executor,
                                     const ForwardBenchOptions &options) {
  KILN_TRY(checkFits(executor, options));
  std::vector<int32_t> tokens = benchmarkTokens(options.promptTokens, executor.vocabSize());
  ForwardRates rates;
  auto start = Clock::now();
  KILN_TRY(prefillAll(executor, tokens));
  rates.prefill = double(options.promptTokens) / secondsSince(start);
  start = Clock::now();
  KILN_TRY(decodeAll(executor, tokens, options.decodeTokens));
  rates.decode = double(options.decodeTokens) / secondsSince(start);
  return rates;
}

void ForwardSpeed::add(const ForwardRates &rates) {
  prefillRates.push_back(rates.prefill);
  decodeRates.push_back(rates.decode);
  prefill = summarizeRates(prefillRates);
  decode = summarizeRates(decodeRates);
}

Result<ForwardSpeed> measureForwardSpeed(runtime::Executor &executor,
                                         const ForwardBenchOptions &options) {
  KILN_TRY(warmUp(executor, options));
  ForwardSpeed speed;
  for (int r = 0; r < options.repeats; ++r) {
    auto rates = timeForwardOnce(executor, options);
    if (!rates)
      return std::move(rates).takeError();
    speed.add(*rates);
  }
  return speed;
}

Result<KernelProfile> profileForward(runtime::Executor &executor,
                                     const ForwardBenchOptions &options) {
  KILN_TRY(checkFits(executor, options));
  std::vector<int32_t> tokens = benchmarkTokens(options.promptTokens, executor.vocabSize());
  KernelProfile profile;
  executor.setProfiling(true); // also zeroes the sums
  Status prefilled = prefillAll(executor, tokens);
  profile.prefillSeconds = executor.profile();
  profile.prefillCalls = executor.profileCalls();
  executor.setProfiling(true);
  Status decoded = prefilled.ok() ? decodeAll(executor, tokens, options.decodeTokens)
                                  : Status::success();
  profile.decodeSeconds = executor.profile();
  profile.decodeCalls = executor.profileCalls();
  executor.setProfiling(false);
  KILN_TRY(prefilled);
  KILN_TRY(decoded);
  return profile;
}

uint64_t weightBytesPerToken(const runtime::ExecutionPlan &plan, const GgufFile &weights) {
  // A tensor loaded in two layouts (ExecutionPlan::weightLayouts) is one
  // tensor's bytes: each kernel reads one of the copies.
  uint64_t bytes = 0;
  std::set<std::string_view> counted;
  for (const std::string &name : plan.weightNames)
    if (const GgufTensorInfo *tensor = weights.findTensor(name);
        tensor && counted.insert(name).second)
      bytes += tensor->byteSize;
  return bytes;
}

} // namespace kiln::eval
