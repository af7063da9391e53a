#include "runtime/opencl/OpenClContext.h"

#include <cstdlib>
#include <string_view>
#include <vector>

namespace kiln::runtime::opencl {

std::string errorName(cl_int code) {
  const char *name = nullptr;
  switch (code) {
  case CL_DEVICE_NOT_FOUND: name = "CL_DEVICE_NOT_FOUND"; break;
  case CL_DEVICE_NOT_AVAILABLE: name = "CL_DEVICE_NOT_AVAILABLE"; break;
  case CL_MEM_OBJECT_ALLOCATION_FAILURE: name = "CL_MEM_OBJECT_ALLOCATION_FAILURE"; break;
  case CL_OUT_OF_RESOURCES: name = "CL_OUT_OF_RESOURCES"; break;
  case CL_OUT_OF_HOST_MEMORY: name = "CL_OUT_OF_HOST_MEMORY"; break;
  case CL_BUILD_PROGRAM_FAILURE: name = "CL_BUILD_PROGRAM_FAILURE"; break;
  case CL_INVALID_VALUE: name = "CL_INVALID_VALUE"; break;
  case CL_INVALID_BINARY: name = "CL_INVALID_BINARY"; break;
  case CL_INVALID_BUFFER_SIZE: name = "CL_INVALID_BUFFER_SIZE"; break;
  case CL_INVALID_KERNEL_ARGS: name = "CL_INVALID_KERNEL_ARGS"; break;
  case CL_INVALID_WORK_GROUP_SIZE: name = "CL_INVALID_WORK_GROUP_SIZE"; break;
  case CL_INVALID_WORK_ITEM_SIZE: name = "CL_INVALID_WORK_ITEM_SIZE"; break;
  case CL_INVALID_GLOBAL_WORK_SIZE: name = "CL_INVALID_GLOBAL_WORK_SIZE"; break;
  case CL_INVALID_MEM_OBJECT: name = "CL_INVALID_MEM_OBJECT"; break;
  case CL_INVALID_KERNEL_NAME: name = "CL_INVALID_KERNEL_NAME"; break;
  case -1001: name = "CL_PLATFORM_NOT_FOUND_KHR"; break;
  default: break;
  }
  std::string text = name ? std::string(name) + " (" : "OpenCL error (";
  return text + std::to_string(code) + ")";
}

namespace {

std::string platformText(cl_platform_id platform, cl_platform_info what) {
  size_t size = 0;
  if (clGetPlatformInfo(platform, what, 0, nullptr, &size) != CL_SUCCESS || size == 0)
    return {};
  std::string text(size, '\0');
  clGetPlatformInfo(platform, what, size, text.data(), nullptr);
  while (!text.empty() && text.back() == '\0')
    text.pop_back();
  return text;
}

std::string deviceText(cl_device_id device, cl_device_info what) {
  size_t size = 0;
  if (clGetDeviceInfo(device, what, 0, nullptr, &size) != CL_SUCCESS || size == 0)
    return {};
  std::string text(size, '\0');
  clGetDeviceInfo(device, what, size, text.data(), nullptr);
  while (!text.empty() && text.back() == '\0')
    text.pop_back();
  return text;
}

template <typename T> T deviceValue(cl_device_id device, cl_device_info what) {
  T value{};
  clGetDeviceInfo(device, what, sizeof value, &value, nullptr);
  return value;
}

bool hasExtension(const std::string &list, std::string_view name) {
  size_t at = 0;
  while ((at = list.find(name, at)) != std::string::npos) {
    size_t end = at + name.size();
    if ((at == 0 || list[at - 1] == ' ') && (end == list.size() || list[end] == ' '))
      return true;
    at = end;
  }
  return false;
}

constexpr const char *kHowToGetOne =
    "install an OpenCL driver (an ICD) such as PoCL, which runs OpenCL on the CPU "
    "(Debian: apt-get install pocl-opencl-icd)";

} // namespace

Result<std::shared_ptr<OpenClContext>> OpenClContext::open() {
  cl_uint platformCount = 0;
  cl_int status = clGetPlatformIDs(0, nullptr, &platformCount);
  if (status != CL_SUCCESS || platformCount == 0)
    return makeError("no OpenCL platform: the ICD loader found no driver (",
                     status == CL_SUCCESS ? "0 platforms" : errorName(status), "); ",
                     kHowToGetOne);
  std::vector<cl_platform_id> platforms(platformCount);
  clGetPlatformIDs(platformCount, platforms.data(), nullptr);

  const char *wanted = std::getenv("KILN_OPENCL_DEVICE");
  std::string wantedText = wanted ? wanted : "";
  cl_platform_id chosenPlatform = nullptr;
  cl_device_id chosen = nullptr;
  bool chosenIsGpu = false;
  size_t deviceTotal = 0;
  for (cl_platform_id platform : platforms) {
    cl_uint count = 0;
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &count) != CL_SUCCESS)
      continue;
    std::vector<cl_device_id> devices(count);
    clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, devices.data(), nullptr);
    deviceTotal += count;
    for (cl_device_id device : devices) {
      if (!deviceValue<cl_bool>(device, CL_DEVICE_AVAILABLE) ||
          !deviceValue<cl_bool>(device, CL_DEVICE_COMPILER_AVAILABLE))
        continue;
      if (!wantedText.empty()) {
        std::string names = platformText(platform, CL_PLATFORM_NAME) + " " +
                            deviceText(device, CL_DEVICE_NAME);
        if (names.find(wantedText) == std::string::npos)
          continue;
      }
      bool gpu = deviceValue<cl_device_type>(device, CL_DEVICE_TYPE) & CL_DEVICE_TYPE_GPU;
      if (!chosen || (gpu && !chosenIsGpu)) {
        chosen = device;
        chosenPlatform = platform;
        chosenIsGpu = gpu;
      }
    }
  }
  if (!chosen) {
    if (!wantedText.empty())
      return makeError("no available OpenCL device matches KILN_OPENCL_DEVICE='", wantedText,
                       "' (", std::to_string(deviceTotal), " devices on ",
                       std::to_string(platformCount), " platforms; clinfo lists them)");
    return makeError("no available OpenCL device with a compiler on ",
                     std::to_string(platformCount), " platforms; ", kHowToGetOne);
  }

  std::shared_ptr<OpenClContext> self(new OpenClContext());
  self->device_ = chosen;
  DeviceFacts &facts = self->facts_;
  facts.platform = platformText(chosenPlatform, CL_PLATFORM_NAME);
  facts.device = deviceText(chosen, CL_DEVICE_NAME);
  facts.driver = deviceText(chosen, CL_DRIVER_VERSION);
  facts.openclC = deviceText(chosen, CL_DEVICE_OPENCL_C_VERSION);
  std::string extensions = deviceText(chosen, CL_DEVICE_EXTENSIONS);
  facts.fp16 = hasExtension(extensions, "cl_khr_fp16");
  facts.subgroups = hasExtension(extensions, "cl_khr_subgroups");
  facts.maxWorkGroup = deviceValue<size_t>(chosen, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  facts.localMemBytes = deviceValue<cl_ulong>(chosen, CL_DEVICE_LOCAL_MEM_SIZE);
  facts.globalMemBytes = deviceValue<cl_ulong>(chosen, CL_DEVICE_GLOBAL_MEM_SIZE);
  facts.maxAllocBytes = deviceValue<cl_ulong>(chosen, CL_DEVICE_MAX_MEM_ALLOC_SIZE);

  cl_context_properties properties[] = {
      CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(chosenPlatform), 0};
  self->context_ = clCreateContext(properties, 1, &chosen, nullptr, nullptr, &status);
  if (status != CL_SUCCESS)
    return makeError("OpenCL device '", facts.device, "': cannot create a context: ",
                     errorName(status));
  self->queue_ = clCreateCommandQueue(self->context_, chosen, 0, &status);
  if (status != CL_SUCCESS)
    return makeError("OpenCL device '", facts.device, "': cannot create a command queue: ",
                     errorName(status));
  return self;
}

OpenClContext::~OpenClContext() {
  if (queue_)
    clReleaseCommandQueue(queue_);
  if (context_)
    clReleaseContext(context_);
}

} // namespace kiln::runtime::opencl
