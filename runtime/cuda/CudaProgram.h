// A CudaModule loaded on one device: the driver compiles its PTX for the
// GPU (and keeps the result in its own compute cache), and each entry's
// function is looked up once.
#pragma once

#include "runtime/cuda/CudaContext.h"
#include "runtime/cuda/CudaModule.h"

#include <memory>
#include <vector>

namespace kiln::runtime::cuda {

class CudaProgram {
public:
  // A device older than the module's architecture, or PTX the driver
  // refuses, is an error naming the device (and holding the driver's log).
  static Result<std::shared_ptr<CudaProgram>> load(std::shared_ptr<CudaContext> context,
                                                   CudaModule module);
  ~CudaProgram();
  CudaProgram(const CudaProgram &) = delete;
  CudaProgram &operator=(const CudaProgram &) = delete;

  const std::shared_ptr<CudaContext> &context() const { return context_; }
  const CudaModule &module() const { return module_; }
  CUfunction function(size_t kernel) const { return functions_[kernel]; }
  // The device address of the module's position global (kPositionSymbol).
  CUdeviceptr positionAddress() const { return position_; }
  size_t kernelCount() const { return functions_.size(); }

private:
  CudaProgram() = default;
  std::shared_ptr<CudaContext> context_;
  CudaModule module_;
  CUmodule loaded_ = nullptr;
  std::vector<CUfunction> functions_;
  CUdeviceptr position_ = 0;
};

} // namespace kiln::runtime::cuda
