// CPU kernels compiled ahead of time: an ELF shared object (the "cpu.so"
// section of an artifact) loaded with dlopen from an anonymous in-memory
// file, its kernel symbols looked up by name. No LLVM: this is how the
// runner gets code the compiler made earlier.
#pragma once

#include "runtime/cpu/CpuKernel.h"
#include "support/Result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime {

class SharedObjectKernels {
public:
  // `symbols[i]` with `tasks[i]`; `where` names the object in errors.
  static Result<std::unique_ptr<SharedObjectKernels>>
  load(std::span<const uint8_t> object, const std::vector<std::string> &symbols,
       const std::vector<TaskCount> &tasks, const std::string &where);
  ~SharedObjectKernels();
  SharedObjectKernels(const SharedObjectKernels &) = delete;
  SharedObjectKernels &operator=(const SharedObjectKernels &) = delete;

  // Indexed as the plan's kernel symbols; valid while this object lives.
  const std::vector<CpuKernel> &kernels() const { return kernels_; }

private:
  SharedObjectKernels() = default;
  void *handle_ = nullptr;
  std::vector<CpuKernel> kernels_;
};

} // namespace kiln::runtime
