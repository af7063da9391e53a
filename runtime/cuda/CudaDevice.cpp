#include "runtime/cuda/CudaDevice.h"

#include <vector>

namespace kiln::runtime::cuda {

CudaDevice::CudaDevice(std::shared_ptr<CudaProgram> program) : program_(std::move(program)) {
  (void)program_->context()->makeCurrent();
}

CudaDevice::~CudaDevice() {
  const DriverApi &api = program_->context()->api();
  api.cuStreamSynchronize(program_->context()->stream());
  for (CUdeviceptr allocation : allocations_)
    api.cuMemFree(allocation);
}

Status CudaDevice::check(CUresult result, const std::string &what) const {
  return program_->context()->driver().check(
      result, "CUDA device '" + program_->context()->facts().name + "': " + what);
}

void *CudaDevice::allocate(uint64_t bytes) {
  const DriverApi &api = program_->context()->api();
  CUdeviceptr buffer = 0;
  if (api.cuMemAlloc(&buffer, bytes ? bytes : 4) != CUDA_SUCCESS)
    return nullptr;
  if (api.cuMemsetD8(buffer, 0, bytes ? bytes : 4) != CUDA_SUCCESS) {
    api.cuMemFree(buffer);
    return nullptr;
  }
  allocations_.insert(buffer);
  return reinterpret_cast<void *>(buffer);
}

void CudaDevice::release(void *buffer) {
  auto found = allocations_.find(reinterpret_cast<CUdeviceptr>(buffer));
  if (found == allocations_.end())
    return;
  const DriverApi &api = program_->context()->api();
  api.cuStreamSynchronize(program_->context()->stream());
  api.cuMemFree(*found);
  allocations_.erase(found);
}

Result<const void *> CudaDevice::upload(std::span<const uint8_t> weight) {
  const DriverApi &api = program_->context()->api();
  CUdeviceptr buffer = 0;
  const uint64_t size = weight.empty() ? 4 : weight.size();
  KILN_TRY(check(api.cuMemAlloc(&buffer, size),
                 "allocating " + std::to_string(size) + " bytes for a weight"));
  allocations_.insert(buffer);
  if (!weight.empty())
    KILN_TRY(check(api.cuMemcpyHtoD(buffer, weight.data(), weight.size()),
                   "copying a weight to the GPU"));
  return reinterpret_cast<const void *>(buffer);
}

Status CudaDevice::write(void *deviceDst, const void *hostSrc, uint64_t bytes) {
  const DriverApi &api = program_->context()->api();
  KILN_TRY(check(api.cuStreamSynchronize(program_->context()->stream()), "a kernel failed"));
  return check(api.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(deviceDst), hostSrc, bytes),
               "copying to the GPU");
}

Status CudaDevice::read(const void *deviceSrc, void *hostDst, uint64_t bytes) {
  const DriverApi &api = program_->context()->api();
  KILN_TRY(check(api.cuStreamSynchronize(program_->context()->stream()), "a kernel failed"));
  return check(api.cuMemcpyDtoH(hostDst, reinterpret_cast<CUdeviceptr>(deviceSrc), bytes),
               "copying from the GPU");
}

void CudaDevice::launch(const Launch &launch) {
  if (!error_.empty())
    return;
  const CudaKernelEntry &entry = program_->module().kernels[launch.kernel];
  const int64_t tasks = entry.tasks.fixed + entry.tasks.perRow * launch.rows;
  if (tasks <= 0)
    return;
  // The entry's parameters: each argument's device pointer, rows, position
  // (CudaModule.h). The driver copies them at the call.
  int64_t rows = launch.rows, position = launch.position;
  void *params[64];
  std::vector<void *> many;
  void **values = params;
  if (entry.argCount + 2 > 64) {
    many.resize(entry.argCount + 2);
    values = many.data();
  }
  for (uint32_t i = 0; i < entry.argCount; ++i)
    values[i] = const_cast<void **>(&launch.args[i]);
  values[entry.argCount] = &rows;
  values[entry.argCount + 1] = &position;
  const uint64_t blocks = (uint64_t(tasks) + entry.blockSize - 1) / entry.blockSize;
  Status launched = check(program_->context()->api().cuLaunchKernel(
                              program_->function(launch.kernel), unsigned(blocks), 1, 1,
                              entry.blockSize, 1, 1, 0, program_->context()->stream(),
                              values, nullptr),
                          "launching kernel '" + entry.name + "'");
  if (!launched.ok())
    error_ = launched.message();
}

Status CudaDevice::synchronize() {
  Status synced = check(program_->context()->api().cuStreamSynchronize(
                            program_->context()->stream()),
                        "running the kernels");
  if (!error_.empty()) {
    std::string message = std::move(error_);
    error_.clear();
    return makeError(message);
  }
  return synced;
}

} // namespace kiln::runtime::cuda
