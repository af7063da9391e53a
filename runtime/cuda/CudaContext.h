// One CUDA device with its primary context and a stream: what the CUDA
// device runs kernels on. The device is $KILN_CUDA_DEVICE (its index),
// else the first.
#pragma once

#include "runtime/cuda/CudaDriver.h"

#include <memory>
#include <string>

namespace kiln::runtime::cuda {

struct CudaFacts {
  std::string name;     // "NVIDIA H200"
  int computeMajor = 0; // 9 for sm_90
  int computeMinor = 0;
  int multiprocessors = 0;
  uint64_t memoryBytes = 0;
  int driverVersion = 0; // 13000 for CUDA 13.0

  int sm() const { return computeMajor * 10 + computeMinor; }
};

class CudaContext {
public:
  static Result<std::shared_ptr<CudaContext>> open();
  ~CudaContext();
  CudaContext(const CudaContext &) = delete;
  CudaContext &operator=(const CudaContext &) = delete;

  const CudaDriver &driver() const { return *driver_; }
  const DriverApi &api() const { return driver_->api(); }
  const CudaFacts &facts() const { return facts_; }
  CUstream stream() const { return stream_; }
  // Makes the context current on the calling thread.
  Status makeCurrent() const;

private:
  CudaContext() = default;
  const CudaDriver *driver_ = nullptr;
  CudaFacts facts_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
};

} // namespace kiln::runtime::cuda
