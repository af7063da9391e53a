#include "codegen/TargetRegistry.h"

#include "codegen/cpu/CpuTarget.h"
#include "codegen/cuda/CudaTarget.h"
#ifdef KILN_HAVE_OPENCL
#include "codegen/opencl/OpenClTarget.h"
#endif

namespace kiln::codegen {

namespace {

struct Entry {
  std::string name;
  std::string title;    // as a sentence names it: "the CUDA target"
  const Target *target; // null: known, not built yet
};

const std::vector<Entry> &entries() {
  static const cpu::CpuTarget cpuTarget;
  static const cuda::CudaTarget cudaTarget;
#ifdef KILN_HAVE_OPENCL
  static const opencl::OpenClTarget openClTarget;
  const Target *openCl = &openClTarget;
#else
  // Built without an OpenCL ICD loader and headers (CMake said so).
  const Target *openCl = nullptr;
#endif
  static const std::vector<Entry> table = {
      {"cpu", "CPU", &cpuTarget},
      {"opencl", "OpenCL", openCl},
      {"cuda", "CUDA", &cudaTarget},
  };
  return table;
}

std::string joined(const std::vector<std::string> &names) {
  std::string list;
  for (const std::string &name : names)
    list += (list.empty() ? "" : ", ") + name;
  return list;
}

} // namespace

const std::vector<std::string> &knownTargetNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const Entry &entry : entries())
      result.push_back(entry.name);
    return result;
  }();
  return names;
}

std::vector<std::string> builtTargetNames() {
  std::vector<std::string> names;
  for (const Entry &entry : entries())
    if (entry.target)
      names.push_back(entry.name);
  return names;
}

Result<const Target *> findTarget(std::string_view name) {
  for (const Entry &entry : entries()) {
    if (entry.name != name)
      continue;
    if (!entry.target)
      return makeError("the ", entry.title, " target is not built yet (available: ",
                       joined(builtTargetNames()), ")");
    return entry.target;
  }
  return makeError("no target named '", std::string(name), "' (known: ",
                   joined(knownTargetNames()), ")");
}

} // namespace kiln::codegen
