// The kernels a target compiled, loaded and ready: what a Program holds
// whatever the target. It makes the runtime device that runs them (the CPU
// JIT a CpuDevice over function pointers, the OpenCL target an OpenClDevice
// with its built program), so the commands never ask which target it was.
#pragma once

#include "runtime/Device.h"
#include "runtime/cpu/ThreadPool.h"
#include "support/Result.h"

#include <memory>
#include <string>
#include <string_view>

namespace kiln::codegen {

class KernelModule {
public:
  virtual ~KernelModule() = default;
  // The target that compiled it ("cpu", "opencl").
  virtual std::string_view targetName() const = 0;
  // What they run on, in words: the CPU's name, the OpenCL device's.
  virtual std::string deviceName() const = 0;
  // The kernels came from the target's cache (nothing was compiled).
  virtual bool cacheHit() const = 0;
  // A device holding these kernels. CPU kernels run on `pool`; a device
  // with its own workers ignores it. The module must outlive the device.
  virtual Result<std::unique_ptr<runtime::Device>>
  createDevice(runtime::ThreadPool &pool) const = 0;
};

} // namespace kiln::codegen
