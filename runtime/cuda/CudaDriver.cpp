#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>

#include <mutex>

namespace kiln::runtime::cuda {

namespace {

// CUDA 12's lookup (with the status out-parameter), else CUDA 11.3's.
using GetProcAddressV2 = CUresult (*)(const char *, void **, int, uint64_t, int *);
using GetProcAddressV1 = CUresult (*)(const char *, void **, int, uint64_t);
// The API version the functions are asked at: their CUDA 12 forms
// (cuMemAlloc is cuMemAlloc_v2, ...).
constexpr int kApiVersion = 12000;

Result<CudaDriver *> openOnce(CudaDriver &driver, DriverApi &api, int &version) {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    return makeError("no CUDA driver: libcuda.so.1 cannot be loaded (",
                     why ? why : "not found",
                     "); --target cuda needs an NVIDIA GPU with its driver installed");
  }
  auto v2 = reinterpret_cast<GetProcAddressV2>(dlsym(library, "cuGetProcAddress_v2"));
  auto v1 = reinterpret_cast<GetProcAddressV1>(dlsym(library, "cuGetProcAddress"));
  if (!v2 && !v1)
    return makeError("libcuda.so.1 has no cuGetProcAddress: the NVIDIA driver is older "
                     "than CUDA 11.3; update it");
  std::string missing;
  bool stub = false;
  auto lookup = [&](const char *name, auto &slot) {
    void *address = nullptr;
    int status = 0;
    CUresult result = v2 ? v2(name, &address, kApiVersion, 0, &status)
                         : v1(name, &address, kApiVersion, 0);
    stub = stub || result == CUDA_ERROR_STUB_LIBRARY;
    if (result != CUDA_SUCCESS || !address)
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
  };
  lookup("cuInit", api.cuInit);
  lookup("cuGetErrorName", api.cuGetErrorName);
  lookup("cuGetErrorString", api.cuGetErrorString);
  lookup("cuDriverGetVersion", api.cuDriverGetVersion);
  lookup("cuDeviceGetCount", api.cuDeviceGetCount);
  lookup("cuDeviceGet", api.cuDeviceGet);
  lookup("cuDeviceGetName", api.cuDeviceGetName);
  lookup("cuDeviceGetAttribute", api.cuDeviceGetAttribute);
  lookup("cuDeviceTotalMem", api.cuDeviceTotalMem);
  lookup("cuDevicePrimaryCtxRetain", api.cuDevicePrimaryCtxRetain);
  lookup("cuDevicePrimaryCtxRelease", api.cuDevicePrimaryCtxRelease);
  lookup("cuCtxSetCurrent", api.cuCtxSetCurrent);
  lookup("cuStreamCreate", api.cuStreamCreate);
  lookup("cuStreamDestroy", api.cuStreamDestroy);
  lookup("cuStreamSynchronize", api.cuStreamSynchronize);
  lookup("cuModuleLoadDataEx", api.cuModuleLoadDataEx);
  lookup("cuModuleUnload", api.cuModuleUnload);
  lookup("cuModuleGetFunction", api.cuModuleGetFunction);
  lookup("cuLaunchKernel", api.cuLaunchKernel);
  lookup("cuMemAlloc", api.cuMemAlloc);
  lookup("cuMemFree", api.cuMemFree);
  lookup("cuMemsetD8", api.cuMemsetD8);
  lookup("cuMemcpyHtoD", api.cuMemcpyHtoD);
  lookup("cuMemcpyDtoH", api.cuMemcpyDtoH);
  lookup("cuMemcpyHtoDAsync", api.cuMemcpyHtoDAsync);
  lookup("cuMemHostAlloc", api.cuMemHostAlloc);
  lookup("cuMemFreeHost", api.cuMemFreeHost);
  lookup("cuModuleGetGlobal", api.cuModuleGetGlobal);
  lookup("cuStreamBeginCapture", api.cuStreamBeginCapture);
  lookup("cuStreamEndCapture", api.cuStreamEndCapture);
  lookup("cuGraphInstantiateWithFlags", api.cuGraphInstantiateWithFlags);
  lookup("cuGraphLaunch", api.cuGraphLaunch);
  lookup("cuGraphExecDestroy", api.cuGraphExecDestroy);
  lookup("cuGraphDestroy", api.cuGraphDestroy);
  // The toolkit's stub library answers every call with its own error.
  const std::string stubMessage =
      "no CUDA driver: the libcuda.so.1 found is the CUDA toolkit's stub library, not an "
      "NVIDIA driver; --target cuda needs an NVIDIA GPU with its driver installed";
  if (stub)
    return makeError(stubMessage);
  if (api.cuInit) {
    CUresult init = api.cuInit(0);
    if (init == CUDA_ERROR_STUB_LIBRARY)
      return makeError(stubMessage);
    if (init == CUDA_ERROR_NO_DEVICE)
      return makeError("no CUDA device: the NVIDIA driver is installed but finds no GPU");
    if (init != CUDA_SUCCESS)
      return makeError("the CUDA driver failed to initialize (cuInit returned ",
                       std::to_string(init), ")");
  }
  if (!missing.empty())
    return makeError("the CUDA driver lacks ", missing, ": update the NVIDIA driver");
  api.cuDriverGetVersion(&version);
  return &driver;
}

} // namespace

Result<const CudaDriver *> CudaDriver::open() {
  static CudaDriver driver;
  static std::once_flag once;
  static Result<CudaDriver *> opened = makeError("");
  std::call_once(once, [] { opened = openOnce(driver, driver.api_, driver.version_); });
  if (!opened)
    return makeError(opened.error().message);
  return static_cast<const CudaDriver *>(*opened);
}

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (api_.cuGetErrorName)
    api_.cuGetErrorName(result, &name);
  if (api_.cuGetErrorString)
    api_.cuGetErrorString(result, &text);
  std::string described = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    described += std::string(" (") + text + ")";
  return described;
}

Status CudaDriver::check(CUresult result, const std::string &what) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  return makeError(what, ": ", describe(result));
}

Result<int> CudaDriver::deviceCount() const {
  int count = 0;
  KILN_TRY(check(api_.cuDeviceGetCount(&count), "counting CUDA devices"));
  if (count == 0)
    return makeError("no CUDA device: the NVIDIA driver finds no GPU");
  return count;
}

} // namespace kiln::runtime::cuda
