// The execution plan as bytes, for the plan section of an AOT artifact.
// Decoding checks what the executor trusts: every kernel, weight, buffer
// and layer index in range, every enum a known value.
#pragma once

#include "runtime/ExecutionPlan.h"
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cuda/CudaModule.h"
#include "runtime/opencl/OpenClModule.h"
#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime::artifact {

std::vector<uint8_t> encodePlan(const ExecutionPlan &plan);
// `where` names the bytes in errors ("model.kiln: section plan").
Result<ExecutionPlan> decodePlan(std::span<const uint8_t> bytes, const std::string &where);

// The CPU kernels' task counts, one per kernel of the plan.
std::vector<uint8_t> encodeTaskCounts(const std::vector<TaskCount> &tasks);
Result<std::vector<TaskCount>> decodeTaskCounts(std::span<const uint8_t> bytes,
                                                size_t kernels, const std::string &where);

// The OpenCL program of a plan; its kernels must be the plan's, in order.
std::vector<uint8_t> encodeOpenClModule(const opencl::OpenClModule &module);
Result<opencl::OpenClModule> decodeOpenClModule(std::span<const uint8_t> bytes,
                                                const std::vector<std::string> &symbols,
                                                const std::string &where);

// The CUDA target's PTX module of a plan; its kernels must be the plan's,
// in order.
std::vector<uint8_t> encodeCudaModule(const cuda::CudaModule &module);
Result<cuda::CudaModule> decodeCudaModule(std::span<const uint8_t> bytes,
                                          const std::vector<std::string> &symbols,
                                          const std::string &where);

} // namespace kiln::runtime::artifact
