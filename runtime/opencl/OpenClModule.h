// What the OpenCL target hands the OpenCL device: the program source of
// every kernel of a plan, and how each kernel is launched. Plain data, no
// OpenCL headers: the compiler fills it, the device builds and runs it (an
// AOT artifact can store it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::runtime::opencl {

// A 2-D NDRange. Dimension 0: `groups` work-groups of `local` work-items;
// dimension 1: the rows in flight when `perRow`, else 1 (a work-group is
// 1 wide in dimension 1).
struct LaunchShape {
  uint32_t local = 1;
  int64_t groups = 1;
  bool perRow = false;
};

// One __kernel of the program. Its parameters are, for each of the
// `argCount` plan arguments (Step::args, in order), a buffer and a byte
// offset into it, then the rows in flight and the first position:
//   __global uchar *a0, ulong o0, ..., long rows, long position
struct KernelEntry {
  std::string name;
  uint32_t argCount = 0;
  LaunchShape launch;
};

struct OpenClModule {
  std::string source;       // OpenCL C, every kernel of the plan
  std::string buildOptions; // passed to clBuildProgram
  std::vector<KernelEntry> kernels; // indexed as ExecutionPlan::kernelSymbols
};

// What code generation must know of the device it generates for.
struct DeviceFacts {
  std::string platform;     // CL_PLATFORM_NAME
  std::string device;       // CL_DEVICE_NAME
  std::string driver;       // CL_DRIVER_VERSION
  std::string openclC;      // CL_DEVICE_OPENCL_C_VERSION
  bool fp16 = false;        // cl_khr_fp16: half arithmetic
  bool subgroups = false;   // cl_khr_subgroups: sub_group_reduce_add
  uint64_t maxWorkGroup = 1;    // CL_DEVICE_MAX_WORK_GROUP_SIZE
  uint64_t localMemBytes = 0;   // CL_DEVICE_LOCAL_MEM_SIZE
  uint64_t globalMemBytes = 0;  // CL_DEVICE_GLOBAL_MEM_SIZE
  uint64_t maxAllocBytes = 0;   // CL_DEVICE_MAX_MEM_ALLOC_SIZE
};

} // namespace kiln::runtime::opencl
