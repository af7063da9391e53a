#include "runtime/opencl/OpenClDevice.h"

#include <vector>

namespace kiln::runtime::opencl {

namespace {

// Device addresses start here and never reach host memory the executor
// could confuse them with; each allocation gets its own range, a guard
// page apart, so an offset past one end never lands in another.
constexpr uintptr_t kFirstAddress = uintptr_t(1) << 44;
constexpr uint64_t kAddressGranule = 1 << 16;

uint64_t roundUp(uint64_t bytes) {
  return (bytes + kAddressGranule - 1) / kAddressGranule * kAddressGranule;
}

} // namespace

OpenClDevice::OpenClDevice(std::shared_ptr<OpenClProgram> program)
    : program_(std::move(program)), nextAddress_(kFirstAddress) {}

OpenClDevice::~OpenClDevice() {
  clFinish(program_->context()->queue());
  for (auto &[address, allocation] : allocations_)
    clReleaseMemObject(allocation.buffer);
}

void *OpenClDevice::track(cl_mem buffer, uint64_t bytes) {
  uintptr_t address = nextAddress_;
  nextAddress_ += roundUp(bytes ? bytes : 1) + kAddressGranule;
  allocations_[address] = Allocation{buffer, bytes};
  return reinterpret_cast<void *>(address);
}

void *OpenClDevice::allocate(uint64_t bytes) {
  const OpenClContext &ctx = *program_->context();
  uint64_t size = bytes ? bytes : 4;
  if (size > ctx.facts().maxAllocBytes)
    return nullptr;
  cl_int status = CL_SUCCESS;
  cl_mem buffer = clCreateBuffer(ctx.context(), CL_MEM_READ_WRITE, size, nullptr, &status);
  if (status != CL_SUCCESS)
    return nullptr;
  const cl_uchar zero = 0;
  status = clEnqueueFillBuffer(ctx.queue(), buffer, &zero, 1, 0, size, 0, nullptr, nullptr);
  // Filling is where a lazily allocating driver finds it has no memory.
  if (status == CL_SUCCESS)
    status = clFinish(ctx.queue());
  if (status != CL_SUCCESS) {
    clReleaseMemObject(buffer);
    return nullptr;
  }
  return track(buffer, size);
}

void OpenClDevice::release(void *buffer) {
  auto found = allocations_.find(reinterpret_cast<uintptr_t>(buffer));
  if (found == allocations_.end())
    return;
  clFinish(program_->context()->queue());
  clReleaseMemObject(found->second.buffer);
  allocations_.erase(found);
}

Result<const void *> OpenClDevice::upload(std::span<const uint8_t> weight) {
  const OpenClContext &ctx = *program_->context();
  uint64_t size = weight.empty() ? 4 : weight.size();
  if (size > ctx.facts().maxAllocBytes)
    return makeError("OpenCL device '", ctx.facts().device, "': a ", std::to_string(size),
                     "-byte weight exceeds its largest buffer (",
                     std::to_string(ctx.facts().maxAllocBytes), " bytes)");
  cl_int status = CL_SUCCESS;
  cl_mem buffer = clCreateBuffer(ctx.context(), CL_MEM_READ_ONLY, size, nullptr, &status);
  if (status == CL_SUCCESS && !weight.empty())
    status = clEnqueueWriteBuffer(ctx.queue(), buffer, CL_TRUE, 0, weight.size(),
                                  weight.data(), 0, nullptr, nullptr);
  if (status != CL_SUCCESS) {
    if (buffer)
      clReleaseMemObject(buffer);
    return makeError("OpenCL device '", ctx.facts().device, "': out of device memory for a ",
                     std::to_string(size), "-byte weight (", errorName(status), ")");
  }
  return static_cast<const void *>(track(buffer, size));
}

std::pair<cl_mem, uint64_t> OpenClDevice::resolve(const void *address) const {
  uintptr_t value = reinterpret_cast<uintptr_t>(address);
  auto after = allocations_.upper_bound(value);
  if (after == allocations_.begin())
    return {nullptr, 0};
  auto found = std::prev(after);
  uint64_t offset = value - found->first;
  if (offset > found->second.bytes)
    return {nullptr, 0};
  return {found->second.buffer, offset};
}

void OpenClDevice::fail(std::string message) {
  if (error_.empty())
    error_ = "OpenCL device '" + program_->context()->facts().device + "': " +
             std::move(message);
}

Status OpenClDevice::copyError(std::string message) const {
  return makeError("OpenCL device '", program_->context()->facts().device, "': ", message);
}

Status OpenClDevice::write(void *deviceDst, const void *hostSrc, uint64_t bytes) {
  if (bytes == 0)
    return Status::success();
  auto [buffer, offset] = resolve(deviceDst);
  if (!buffer)
    return copyError("a copy to an address that is no device buffer");
  cl_int status = clEnqueueWriteBuffer(program_->context()->queue(), buffer, CL_TRUE, offset,
                                       bytes, hostSrc, 0, nullptr, nullptr);
  if (status != CL_SUCCESS)
    return copyError("copying " + std::to_string(bytes) + " bytes to the device: " +
                     errorName(status));
  return Status::success();
}

Status OpenClDevice::read(const void *deviceSrc, void *hostDst, uint64_t bytes) {
  if (bytes == 0)
    return Status::success();
  auto [buffer, offset] = resolve(deviceSrc);
  if (!buffer)
    return copyError("a copy from an address that is no device buffer");
  cl_int status = clEnqueueReadBuffer(program_->context()->queue(), buffer, CL_TRUE, offset,
                                      bytes, hostDst, 0, nullptr, nullptr);
  if (status != CL_SUCCESS)
    return copyError("copying " + std::to_string(bytes) + " bytes from the device: " +
                     errorName(status));
  return Status::success();
}

void OpenClDevice::launch(const Launch &launch) {
  const KernelEntry &entry = program_->module().kernels[launch.kernel];
  cl_kernel kernel = program_->kernels()[launch.kernel];
  cl_uint index = 0;
  cl_int status = CL_SUCCESS;
  for (uint32_t i = 0; i < entry.argCount && status == CL_SUCCESS; ++i) {
    auto [buffer, offset] = resolve(launch.args[i]);
    if (!buffer)
      return fail("kernel '" + entry.name + "': argument " + std::to_string(i) +
                  " is no device buffer");
    cl_ulong byteOffset = offset;
    status = clSetKernelArg(kernel, index++, sizeof buffer, &buffer);
    if (status == CL_SUCCESS)
      status = clSetKernelArg(kernel, index++, sizeof byteOffset, &byteOffset);
  }
  cl_long rows = launch.rows, position = launch.position;
  if (status == CL_SUCCESS)
    status = clSetKernelArg(kernel, index++, sizeof rows, &rows);
  if (status == CL_SUCCESS)
    status = clSetKernelArg(kernel, index++, sizeof position, &position);
  if (status != CL_SUCCESS)
    return fail("kernel '" + entry.name + "': setting its arguments: " + errorName(status));
  const LaunchShape &shape = entry.launch;
  size_t global[2] = {size_t(shape.groups) * shape.local,
                      size_t(shape.perRow ? launch.rows : 1)};
  size_t local[2] = {shape.local, 1};
  if (global[0] == 0 || global[1] == 0)
    return;
  status = clEnqueueNDRangeKernel(program_->context()->queue(), kernel, 2, nullptr, global,
                                  local, 0, nullptr, nullptr);
  if (status != CL_SUCCESS)
    fail("kernel '" + entry.name + "': launch of " + std::to_string(global[0]) + "x" +
         std::to_string(global[1]) + " work-items: " + errorName(status));
}

Status OpenClDevice::synchronize() {
  cl_int status = clFinish(program_->context()->queue());
  if (status != CL_SUCCESS)
    fail("running the kernels: " + errorName(status) +
         (status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES
              ? " (out of device memory)"
              : ""));
  if (error_.empty())
    return Status::success();
  std::string message = std::move(error_);
  error_.clear();
  return makeError(message);
}

} // namespace kiln::runtime::opencl
