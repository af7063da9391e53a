// What the CPU device runs: generated functions of one signature, each
// with the number of tasks its work is cut into (the CPU target's schedule,
// codegen/cpu/CpuSchedule.h); the device splits the tasks across threads.
#pragma once

#include <cstdint>

namespace kiln::runtime {

// `args` holds the buffer pointers of the call (Step::args order), `rows`
// the tokens in flight, `position` the position of the first of them; the
// kernel does tasks [begin, end) of its work.
using KernelFn = void (*)(void *const *args, int64_t rows, int64_t position,
                          int64_t begin, int64_t end);

// The tasks of a call: fixed + perRow * rows.
struct TaskCount {
  int64_t fixed = 0;
  int64_t perRow = 0;
};

struct CpuKernel {
  KernelFn fn = nullptr;
  TaskCount tasks;
};

} // namespace kiln::runtime
