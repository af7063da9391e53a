// An OpenClModule built for one device: the program and its kernels.
// Built programs are cached as binaries, keyed by the SHA-256 of the
// source, the build options and the device (platform, device and driver
// names), in the kernel cache directory (runtime/KernelCache.h checks each
// entry before it is used), so a second run does not rebuild.
#pragma once

#include "runtime/KernelCache.h"
#include "runtime/opencl/OpenClContext.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::runtime::opencl {

class OpenClProgram {
public:
  // `cacheDir` empty: no cache. A source that does not build is an error
  // holding the build log.
  static Result<std::shared_ptr<OpenClProgram>>
  build(std::shared_ptr<OpenClContext> context, OpenClModule module,
        const std::string &cacheDir, CacheWarning warn);
  ~OpenClProgram();
  OpenClProgram(const OpenClProgram &) = delete;
  OpenClProgram &operator=(const OpenClProgram &) = delete;

  const std::shared_ptr<OpenClContext> &context() const { return context_; }
  const OpenClModule &module() const { return module_; }
  // kernels()[i] is module().kernels[i].
  const std::vector<cl_kernel> &kernels() const { return kernels_; }
  // The program came from the binary cache.
  bool cacheHit() const { return cacheHit_; }

private:
  OpenClProgram() = default;
  std::shared_ptr<OpenClContext> context_;
  OpenClModule module_;
  cl_program program_ = nullptr;
  std::vector<cl_kernel> kernels_;
  bool cacheHit_ = false;
};

} // namespace kiln::runtime::opencl
