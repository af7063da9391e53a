// One OpenCL device, its context and its in-order command queue, found
// through the ICD loader: the device kernels are generated for (its facts)
// and run on. Shared by the OpenCL target (which asks the facts and builds
// the program) and the OpenCL device (which runs it).
#pragma once

#include "runtime/opencl/OpenClApi.h"
#include "runtime/opencl/OpenClModule.h"
#include "support/Result.h"

#include <memory>

namespace kiln::runtime::opencl {

class OpenClContext {
public:
  // The device named by $KILN_OPENCL_DEVICE (a substring of its platform
  // or device name), else the first GPU, else the first device of any
  // platform. No platform or no device is an error that says how to get
  // one (install an ICD such as PoCL).
  static Result<std::shared_ptr<OpenClContext>> open();
  ~OpenClContext();
  OpenClContext(const OpenClContext &) = delete;
  OpenClContext &operator=(const OpenClContext &) = delete;

  const DeviceFacts &facts() const { return facts_; }
  cl_context context() const { return context_; }
  cl_device_id device() const { return device_; }
  cl_command_queue queue() const { return queue_; }

private:
  OpenClContext() = default;
  DeviceFacts facts_;
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
};

} // namespace kiln::runtime::opencl
