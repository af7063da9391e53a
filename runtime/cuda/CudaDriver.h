// The CUDA driver, opened at run time: libcuda.so.1 through dlopen, every
// function looked up through cuGetProcAddress, cuInit called once. kiln
// never links libcuda or the CUDA runtime library, so a kiln built here
// runs on machines without a GPU and says so only when --target cuda asks.
#pragma once

#include "runtime/cuda/CudaApi.h"
#include "support/Result.h"

#include <string>

namespace kiln::runtime::cuda {

class CudaDriver {
public:
  // The driver, opened and initialized on first use. Errors say why there
  // is none: no libcuda.so.1, CUDA's stub library instead of a driver, a
  // driver too old, or no device.
  static Result<const CudaDriver *> open();

  const DriverApi &api() const { return api_; }
  int version() const { return version_; } // e.g. 13000

  // "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(CUresult result) const;
  // Success, or an error "<what>: <describe(result)>".
  Status check(CUresult result, const std::string &what) const;
  // How many CUDA devices the driver finds; an error when it finds none.
  Result<int> deviceCount() const;

private:
  DriverApi api_;
  int version_ = 0;
};

} // namespace kiln::runtime::cuda
