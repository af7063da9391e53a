#include "runtime/cpu/SharedObjectKernels.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kiln::runtime {

Result<std::unique_ptr<SharedObjectKernels>>
SharedObjectKernels::load(std::span<const uint8_t> object, const std::vector<std::string> &symbols,
                          const std::vector<TaskCount> &tasks, const std::string &where) {
  if (symbols.size() != tasks.size())
    return makeError(where, ": ", std::to_string(symbols.size()), " kernels but ",
                     std::to_string(tasks.size()), " task counts");
  // dlopen wants a path: an anonymous file, named through /proc, leaves
  // nothing on disk to clean up or to be swapped by another process.
  int fd = memfd_create("kiln-kernels", MFD_CLOEXEC);
  if (fd < 0)
    return makeError(where, ": cannot create an in-memory file for the kernels: ",
                     std::strerror(errno));
  size_t done = 0;
  while (done < object.size()) {
    ssize_t wrote = ::write(fd, object.data() + done, object.size() - done);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return makeError(where, ": cannot write the kernels to memory: ", why);
    }
    done += size_t(wrote);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ::close(fd); // the mapping keeps the code
  if (!handle) {
    const char *why = dlerror();
    return makeError(where, ": cannot load the compiled kernels: ", why ? why : "dlopen failed");
  }
  std::unique_ptr<SharedObjectKernels> result(new SharedObjectKernels());
  result->handle_ = handle;
  for (size_t i = 0; i < symbols.size(); ++i) {
    void *address = dlsym(handle, symbols[i].c_str());
    if (!address)
      return makeError(where, ": the compiled kernels lack '", symbols[i],
                       "', which the plan calls: the artifact is corrupt; compile it again");
    result->kernels_.push_back({reinterpret_cast<KernelFn>(address), tasks[i]});
  }
  return result;
}

SharedObjectKernels::~SharedObjectKernels() {
  if (handle_)
    dlclose(handle_);
}

} // namespace kiln::runtime
