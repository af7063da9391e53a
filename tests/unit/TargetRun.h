// One model run through a target end to end, for tests that compare
// targets: the teacher-forced logits of a fixed sequence (every row) and
// a greedy continuation of its first four ids (one prefill, then decode
// steps).
#pragma once

#include "codegen/Compile.h"
#include "gguf/GgufFile.h"
#include "runtime/cpu/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln {

struct TargetRun {
  std::vector<float> logits; // teacher-forced, every row
  std::vector<int32_t> greedy;
};

// `count` ids spread over the vocabulary, the same on every run.
inline std::vector<int32_t> fixedSequence(int64_t vocab, size_t count) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < count; ++i)
    ids.push_back(int32_t((1 + i * 7919) % uint64_t(vocab)));
  return ids;
}

inline int32_t argmax(std::span<const float> row) {
  return int32_t(std::max_element(row.begin(), row.end()) - row.begin());
}

// Compiles `file` for `target` and runs `sequence` teacher-forced, then
// `greedyTokens` greedy ids after its first four. Failures are reported
// as test failures and leave the run short.
inline TargetRun runOn(const GgufFile &file, const std::string &target,
                       const std::vector<int32_t> &sequence, int greedyTokens,
                       const codegen::LowerOptions &lower = {}) {
  TargetRun run;
  codegen::CompileOptions options;
  options.target = target;
  options.lower = lower;
  options.allLogits = true;
  auto program = codegen::compile(file, options);
  EXPECT_TRUE(program.ok()) << target << ": " << program.error().message;
  if (!program.ok())
    return run;
  runtime::ThreadPool pool(2);
  runtime::ExecutorOptions execOptions;
  execOptions.maxBatch = int64_t(sequence.size());
  execOptions.contextLength = int64_t(sequence.size()) + greedyTokens + 8;
  auto executor = codegen::makeExecutor(*program, file, pool, execOptions);
  EXPECT_TRUE(executor.ok()) << target << ": " << executor.error().message;
  if (!executor.ok())
    return run;
  auto logits = (*executor)->prefill(sequence, 0);
  EXPECT_TRUE(logits.ok()) << target << ": " << logits.error().message;
  if (!logits.ok())
    return run;
  run.logits.assign(logits->begin(), logits->end());
  const int64_t vocab = (*executor)->vocabSize();
  std::vector<int32_t> prompt(sequence.begin(), sequence.begin() + 4);
  auto first = (*executor)->prefill(prompt, 0);
  EXPECT_TRUE(first.ok()) << first.error().message;
  if (!first.ok())
    return run;
  int32_t next = argmax(first->subspan(first->size() - size_t(vocab)));
  for (int i = 0; i < greedyTokens; ++i) {
    run.greedy.push_back(next);
    auto step = (*executor)->decode(next, int64_t(prompt.size()) + i);
    EXPECT_TRUE(step.ok()) << step.error().message;
    if (!step.ok())
      return run;
    next = argmax(*step);
  }
  return run;
}

} // namespace kiln
