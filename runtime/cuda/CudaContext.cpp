#include "runtime/cuda/CudaContext.h"

#include <cstdlib>

namespace kiln::runtime::cuda {

Result<std::shared_ptr<CudaContext>> CudaContext::open() {
  auto driver = CudaDriver::open();
  if (!driver)
    return std::move(driver).takeError();
  const DriverApi &api = (*driver)->api();
  auto devices = (*driver)->deviceCount();
  if (!devices)
    return std::move(devices).takeError();
  const int count = *devices;
  int index = 0;
  if (const char *chosen = std::getenv("KILN_CUDA_DEVICE"); chosen && *chosen) {
    char *end = nullptr;
    long value = std::strtol(chosen, &end, 10);
    if (*end != '\0' || value < 0 || value >= count)
      return makeError("KILN_CUDA_DEVICE='", chosen, "': not a device index (this machine has ",
                       std::to_string(count), " CUDA device", count == 1 ? "" : "s",
                       ", 0 to ", std::to_string(count - 1), ")");
    index = int(value);
  }
  std::shared_ptr<CudaContext> context(new CudaContext());
  context->driver_ = *driver;
  KILN_TRY((*driver)->check(api.cuDeviceGet(&context->device_, index), "CUDA device " +
                                                                      std::to_string(index)));
  CudaFacts &facts = context->facts_;
  char name[256] = {};
  KILN_TRY((*driver)->check(api.cuDeviceGetName(name, sizeof name - 1, context->device_),
                            "the CUDA device's name"));
  facts.name = name;
  api.cuDeviceGetAttribute(&facts.computeMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                           context->device_);
  api.cuDeviceGetAttribute(&facts.computeMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                           context->device_);
  api.cuDeviceGetAttribute(&facts.multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                           context->device_);
  size_t memory = 0;
  api.cuDeviceTotalMem(&memory, context->device_);
  facts.memoryBytes = memory;
  facts.driverVersion = (*driver)->version();
  KILN_TRY((*driver)->check(api.cuDevicePrimaryCtxRetain(&context->context_, context->device_),
                            "CUDA device '" + facts.name + "': creating its context"));
  KILN_TRY(context->makeCurrent());
  // A blocking stream: the synchronous copies on the default stream wait
  // for its kernels.
  KILN_TRY((*driver)->check(api.cuStreamCreate(&context->stream_, 0),
                            "CUDA device '" + facts.name + "': creating a stream"));
  return context;
}

CudaContext::~CudaContext() {
  if (!driver_)
    return;
  const DriverApi &api = driver_->api();
  if (stream_) {
    api.cuStreamSynchronize(stream_);
    api.cuStreamDestroy(stream_);
  }
  if (context_)
    api.cuDevicePrimaryCtxRelease(device_);
}

Status CudaContext::makeCurrent() const {
  return driver_->check(api().cuCtxSetCurrent(context_),
                        "CUDA device '" + facts_.name + "': making its context current");
}

} // namespace kiln::runtime::cuda
