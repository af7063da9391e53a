#include "runtime/opencl/OpenClProgram.h"

#include "support/Sha256.h"

namespace kiln::runtime::opencl {

namespace {

std::string buildLog(cl_program program, cl_device_id device) {
  size_t size = 0;
  clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
  std::string log(size, '\0');
  if (size)
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n'))
    log.pop_back();
  return log;
}

// The cache key: everything that decides the binary.
std::string cacheKey(const DeviceFacts &facts, const OpenClModule &module) {
  Sha256 hash;
  hash.update("kiln-opencl-program 1\n" + facts.platform + "\n" + facts.device + "\n" +
              facts.driver + "\n" + module.buildOptions + "\n");
  hash.update(module.source);
  return toHex(hash.finish());
}

std::optional<std::vector<uint8_t>> programBinary(cl_program program) {
  size_t size = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) !=
          CL_SUCCESS ||
      size == 0)
    return std::nullopt;
  std::vector<uint8_t> binary(size);
  unsigned char *pointer = binary.data();
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof pointer, &pointer, nullptr) !=
      CL_SUCCESS)
    return std::nullopt;
  return binary;
}

} // namespace

Result<std::shared_ptr<OpenClProgram>>
OpenClProgram::build(std::shared_ptr<OpenClContext> context, OpenClModule module,
                     const std::string &cacheDir, CacheWarning warn) {
  std::shared_ptr<OpenClProgram> self(new OpenClProgram());
  self->context_ = std::move(context);
  self->module_ = std::move(module);
  const OpenClContext &ctx = *self->context_;
  cl_device_id device = ctx.device();
  const std::string where = "OpenCL device '" + ctx.facts().device + "'";

  std::optional<KernelCache> cache;
  std::string key;
  if (!cacheDir.empty()) {
    cache.emplace(KernelCache::open(cacheDir, warn));
    key = cacheKey(ctx.facts(), self->module_);
  }
  cl_int status = CL_SUCCESS;
  if (cache && cache->enabled()) {
    if (auto binary = cache->read(key)) {
      const unsigned char *bytes = binary->data();
      size_t size = binary->size();
      cl_int binaryStatus = CL_SUCCESS;
      cl_program program = clCreateProgramWithBinary(ctx.context(), 1, &device, &size,
                                                     &bytes, &binaryStatus, &status);
      if (status == CL_SUCCESS && binaryStatus == CL_SUCCESS &&
          clBuildProgram(program, 1, &device, self->module_.buildOptions.c_str(), nullptr,
                         nullptr) == CL_SUCCESS) {
        self->program_ = program;
        self->cacheHit_ = true;
      } else {
        if (program)
          clReleaseProgram(program);
        // The driver no longer takes it (e.g. updated): build afresh.
        warn(cache->objectPath(key) + ": the OpenCL driver refused this program binary; "
                                      "rebuilding");
      }
    }
  }
  if (!self->program_) {
    const char *text = self->module_.source.c_str();
    size_t length = self->module_.source.size();
    cl_program program = clCreateProgramWithSource(ctx.context(), 1, &text, &length, &status);
    if (status != CL_SUCCESS)
      return makeError(where, ": cannot create the program: ", errorName(status));
    self->program_ = program;
    status = clBuildProgram(program, 1, &device, self->module_.buildOptions.c_str(), nullptr,
                            nullptr);
    if (status != CL_SUCCESS)
      return makeError(where, ": the generated OpenCL C program does not build (",
                       errorName(status), "); build log:\n", buildLog(program, device));
    if (cache && cache->enabled())
      if (auto binary = programBinary(program))
        if (Status stored = cache->write(key, *binary); !stored)
          warn(stored.message());
  }
  for (const KernelEntry &entry : self->module_.kernels) {
    cl_kernel kernel = clCreateKernel(self->program_, entry.name.c_str(), &status);
    if (status != CL_SUCCESS)
      return makeError(where, ": the program has no kernel '", entry.name,
                       "': ", errorName(status));
    self->kernels_.push_back(kernel);
    // What the compiled kernel allows (registers, private arrays) may be
    // less than the device's maximum: refuse here, not at every launch.
    size_t allowed = 0;
    if (clGetKernelWorkGroupInfo(kernel, device, CL_KERNEL_WORK_GROUP_SIZE, sizeof allowed,
                                 &allowed, nullptr) == CL_SUCCESS &&
        allowed > 0 && entry.launch.local > allowed)
      return makeError(where, ": kernel '", entry.name, "' is launched in work-groups of ",
                       std::to_string(entry.launch.local), ", the compiled kernel allows ",
                       std::to_string(allowed));
  }
  return self;
}

OpenClProgram::~OpenClProgram() {
  for (cl_kernel kernel : kernels_)
    clReleaseKernel(kernel);
  if (program_)
    clReleaseProgram(program_);
}

} // namespace kiln::runtime::opencl
