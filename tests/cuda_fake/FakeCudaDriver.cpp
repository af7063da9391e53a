// A stand-in for the NVIDIA driver (libcuda.so.1) that runs on the CPU, for
// testing runtime/cuda/ where there is no GPU. It exports cuGetProcAddress_v2
// and the driver functions kiln resolves through it (runtime/cuda/CudaApi.h
// signatures), with host memory for device memory. A kernel cannot run PTX
// here: the test registers, per entry name, the CPU target's task function
// of the same kernel, and cuLaunchKernel runs it the way the PTX entry runs
// its task body (codegen/cuda/PtxGenerator.h): thread `block * blockDim +
// thread` does that task when the call has that many, reading the position
// from the module's kiln_position global. Stream capture records copies and
// launches as graph nodes, which cuGraphLaunch replays (copies read their
// source when replayed). Everything runs at once on the calling thread.
#include "runtime/cpu/CpuKernel.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = uint64_t;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
                   kInvalidImage = 200, kNotFound = 500;

struct Kernel {
  kiln::runtime::KernelFn fn = nullptr;
  uint32_t argCount = 0;
  kiln::runtime::TaskCount tasks;
};

struct Node {
  bool copy = false;
  CUdeviceptr dst = 0;
  const void *src = nullptr;
  size_t bytes = 0;
  const Kernel *kernel = nullptr;
  unsigned grid = 0, block = 0;
  std::vector<uint64_t> params; // argCount pointers, then rows
};

struct State {
  std::string name = "Fake GPU";
  int major = 9, minor = 0, devices = 1;
  uint64_t memoryLimit = uint64_t(1) << 34;
  uint64_t allocated = 0;
  std::map<CUdeviceptr, size_t> allocations;
  std::map<std::string, Kernel> kernels;
  int64_t position = 0; // the module's kiln_position
  bool moduleLoaded = false;
  bool capturing = false;
  std::vector<Node> captured;
  std::vector<std::unique_ptr<std::vector<Node>>> graphs;
  // What happened, for the test.
  uint64_t launches = 0, graphLaunches = 0, captures = 0, positionCopies = 0;
  std::string problem; // the first launch that broke the entry's contract
};

State &state() {
  static State s;
  return s;
}

bool isDevice(CUdeviceptr address, size_t bytes) {
  auto &allocations = state().allocations;
  auto found = allocations.upper_bound(address);
  if (found == allocations.begin())
    return false;
  --found;
  return address + bytes <= found->first + found->second;
}

void copyToDevice(CUdeviceptr dst, const void *src, size_t bytes) {
  if (dst == CUdeviceptr(reinterpret_cast<uintptr_t>(&state().position))) {
    std::memcpy(&state().position, src, sizeof(int64_t));
    ++state().positionCopies;
    return;
  }
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
}

void runKernel(const Node &node) {
  State &s = state();
  const Kernel &k = *node.kernel;
  const int64_t rows = int64_t(node.params[k.argCount]);
  const int64_t tasks = k.tasks.fixed + k.tasks.perRow * rows;
  // The grid covers the tasks with less than one block to spare.
  const uint64_t threads = uint64_t(node.grid) * node.block;
  if ((threads < uint64_t(tasks) || threads >= uint64_t(tasks) + node.block) &&
      s.problem.empty())
    s.problem = "a grid of " + std::to_string(threads) + " threads for " +
                std::to_string(tasks) + " tasks";
  std::vector<void *> args(k.argCount);
  for (uint32_t i = 0; i < k.argCount; ++i) {
    args[i] = reinterpret_cast<void *>(node.params[i]);
    if (!isDevice(node.params[i], 1) && s.problem.empty())
      s.problem = "argument " + std::to_string(i) + " is no device address";
  }
  for (uint64_t thread = 0; thread < threads; ++thread)
    if (int64_t(thread) < tasks)
      k.fn(args.data(), rows, s.position, int64_t(thread), int64_t(thread) + 1);
}

void run(const Node &node) {
  if (node.copy)
    copyToDevice(node.dst, node.src, node.bytes);
  else
    runKernel(node);
}

void *asPointer(CUdeviceptr p) { return reinterpret_cast<void *>(p); }

} // namespace

extern "C" {

// The test's controls.
void fakecuda_set_device(const char *name, int major, int minor, int devices,
                         uint64_t memoryLimit) {
  State &s = state();
  s.name = name;
  s.major = major;
  s.minor = minor;
  s.devices = devices;
  s.memoryLimit = memoryLimit;
}
void fakecuda_register_kernel(const char *name, kiln::runtime::KernelFn fn, uint32_t argCount,
                              int64_t fixed, int64_t perRow) {
  state().kernels[name] = Kernel{fn, argCount, {fixed, perRow}};
}
void fakecuda_counts(uint64_t *launches, uint64_t *graphLaunches, uint64_t *captures,
                     uint64_t *positionCopies) {
  *launches = state().launches;
  *graphLaunches = state().graphLaunches;
  *captures = state().captures;
  *positionCopies = state().positionCopies;
}
const char *fakecuda_problem() { return state().problem.c_str(); }
void fakecuda_reset_counts() {
  State &s = state();
  s.launches = s.graphLaunches = s.captures = s.positionCopies = 0;
  s.problem.clear();
}

CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuGetErrorName(CUresult result, const char **name) {
  *name = result == kOutOfMemory ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_FAKE";
  return kSuccess;
}
CUresult cuGetErrorString(CUresult result, const char **text) {
  *text = result == kOutOfMemory ? "out of memory" : "an error of the fake driver";
  return kSuccess;
}
CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *count) {
  *count = state().devices;
  return kSuccess;
}
CUresult cuDeviceGet(int *device, int index) {
  if (index >= state().devices)
    return kInvalidValue;
  *device = index;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int length, int) {
  std::strncpy(name, state().name.c_str(), size_t(length));
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  *value = attribute == 75 ? state().major : attribute == 76 ? state().minor : 132;
  return kSuccess;
}
CUresult cuDeviceTotalMem(size_t *bytes, int) {
  *bytes = state().memoryLimit;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &state();
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuStreamCreate(void **stream, unsigned) {
  static int handle;
  *stream = &handle;
  return kSuccess;
}
CUresult cuStreamDestroy(void *) { return kSuccess; }
CUresult cuStreamSynchronize(void *) { return kSuccess; }

CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned, int *, void **) {
  if (!std::strstr(static_cast<const char *>(image), ".entry"))
    return kInvalidImage;
  state().moduleLoaded = true;
  *module = &state();
  return kSuccess;
}
CUresult cuModuleUnload(void *) {
  state().moduleLoaded = false;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **function, void *, const char *name) {
  auto found = state().kernels.find(name);
  if (found == state().kernels.end())
    return kNotFound;
  *function = &found->second;
  return kSuccess;
}
CUresult cuModuleGetGlobal(CUdeviceptr *address, size_t *bytes, void *, const char *name) {
  if (std::strcmp(name, "kiln_position") != 0)
    return kNotFound;
  *address = CUdeviceptr(reinterpret_cast<uintptr_t>(&state().position));
  *bytes = sizeof(int64_t);
  return kSuccess;
}

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, void *, void **params,
                        void **extra) {
  if (gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra || !params)
    return kInvalidValue;
  Node node;
  node.kernel = static_cast<const Kernel *>(function);
  node.grid = gx;
  node.block = bx;
  for (uint32_t i = 0; i <= node.kernel->argCount; ++i)
    node.params.push_back(*static_cast<const uint64_t *>(params[i]));
  if (state().capturing) {
    state().captured.push_back(std::move(node));
    return kSuccess;
  }
  ++state().launches;
  run(node);
  return kSuccess;
}

CUresult cuMemAlloc(CUdeviceptr *address, size_t bytes) {
  State &s = state();
  if (s.allocated + bytes > s.memoryLimit)
    return kOutOfMemory;
  void *memory = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return kOutOfMemory;
  *address = CUdeviceptr(reinterpret_cast<uintptr_t>(memory));
  s.allocations[*address] = bytes;
  s.allocated += bytes;
  return kSuccess;
}
CUresult cuMemFree(CUdeviceptr address) {
  auto found = state().allocations.find(address);
  if (found == state().allocations.end())
    return kInvalidValue;
  state().allocated -= found->second;
  state().allocations.erase(found);
  std::free(asPointer(address));
  return kSuccess;
}
CUresult cuMemsetD8(CUdeviceptr address, unsigned char value, size_t bytes) {
  if (!isDevice(address, bytes))
    return kInvalidValue;
  std::memset(asPointer(address), value, bytes);
  return kSuccess;
}
CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!isDevice(dst, bytes))
    return kInvalidValue;
  std::memcpy(asPointer(dst), src, bytes);
  return kSuccess;
}
CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes) {
  if (!isDevice(src, bytes))
    return kInvalidValue;
  std::memcpy(dst, asPointer(src), bytes);
  return kSuccess;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t bytes, void *) {
  Node node;
  node.copy = true;
  node.dst = dst;
  node.src = src;
  node.bytes = bytes;
  if (state().capturing)
    state().captured.push_back(node);
  else
    run(node);
  return kSuccess;
}
CUresult cuMemHostAlloc(void **pointer, size_t bytes, unsigned) {
  *pointer = std::malloc(bytes);
  return *pointer ? kSuccess : kOutOfMemory;
}
CUresult cuMemFreeHost(void *pointer) {
  std::free(pointer);
  return kSuccess;
}

CUresult cuStreamBeginCapture(void *, int) {
  if (state().capturing)
    return kInvalidValue;
  state().capturing = true;
  state().captured.clear();
  return kSuccess;
}
CUresult cuStreamEndCapture(void *, void **graph) {
  if (!state().capturing)
    return kInvalidValue;
  state().capturing = false;
  state().graphs.push_back(std::make_unique<std::vector<Node>>(std::move(state().captured)));
  *graph = state().graphs.back().get();
  ++state().captures;
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
  *exec = graph;
  return kSuccess;
}
CUresult cuGraphLaunch(void *exec, void *) {
  ++state().graphLaunches;
  for (const Node &node : *static_cast<std::vector<Node> *>(exec))
    run(node);
  return kSuccess;
}
CUresult cuGraphExecDestroy(void *) { return kSuccess; }
CUresult cuGraphDestroy(void *) { return kSuccess; }

CUresult cuGetProcAddress_v2(const char *symbol, void **function, int, uint64_t, int *) {
  static const std::map<std::string, void *> table = {
#define KILN_FAKE(name) {#name, reinterpret_cast<void *>(&name)}
      KILN_FAKE(cuInit), KILN_FAKE(cuGetErrorName), KILN_FAKE(cuGetErrorString),
      KILN_FAKE(cuDriverGetVersion), KILN_FAKE(cuDeviceGetCount), KILN_FAKE(cuDeviceGet),
      KILN_FAKE(cuDeviceGetName), KILN_FAKE(cuDeviceGetAttribute),
      KILN_FAKE(cuDeviceTotalMem), KILN_FAKE(cuDevicePrimaryCtxRetain),
      KILN_FAKE(cuDevicePrimaryCtxRelease), KILN_FAKE(cuCtxSetCurrent),
      KILN_FAKE(cuStreamCreate), KILN_FAKE(cuStreamDestroy), KILN_FAKE(cuStreamSynchronize),
      KILN_FAKE(cuModuleLoadDataEx), KILN_FAKE(cuModuleUnload),
      KILN_FAKE(cuModuleGetFunction), KILN_FAKE(cuModuleGetGlobal), KILN_FAKE(cuLaunchKernel),
      KILN_FAKE(cuMemAlloc), KILN_FAKE(cuMemFree), KILN_FAKE(cuMemsetD8),
      KILN_FAKE(cuMemcpyHtoD), KILN_FAKE(cuMemcpyDtoH), KILN_FAKE(cuMemcpyHtoDAsync),
      KILN_FAKE(cuMemHostAlloc), KILN_FAKE(cuMemFreeHost), KILN_FAKE(cuStreamBeginCapture),
      KILN_FAKE(cuStreamEndCapture), KILN_FAKE(cuGraphInstantiateWithFlags),
      KILN_FAKE(cuGraphLaunch), KILN_FAKE(cuGraphExecDestroy), KILN_FAKE(cuGraphDestroy),
#undef KILN_FAKE
  };
  auto found = table.find(symbol);
  *function = found == table.end() ? nullptr : found->second;
  return found == table.end() ? kNotFound : kSuccess;
}

} // extern "C"
