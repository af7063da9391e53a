// CUDA's libdevice (nvvm/libdevice/libdevice.10.bc): the bitcode library of
// math functions (__nv_expf, __nv_tanhf, ...) that NVPTX kernels link in
// place of libm. Found at run time under the CUDA installation, never
// committed, and linked only when a kernel calls one of its functions.
#pragma once

#include "support/Result.h"

#include <string>
#include <vector>

namespace llvm {
class Module;
}

namespace kiln::codegen::cuda {

// Where libdevice is looked for, in order: $KILN_CUDA_LIBDEVICE (the file),
// $CUDA_HOME and $CUDA_PATH, then /usr/local/cuda (each + nvvm/libdevice/
// libdevice.10.bc).
std::vector<std::string> libDeviceCandidates();

// Renames the module's calls of libm functions (expf, cosf, ...) to
// libdevice's (__nv_expf, ...) and, when there was one, links the functions
// it needs from libdevice and internalizes them. `keep` are the kernel
// entries and the globals the host writes (every other definition may be
// dropped or folded). An error when a call
// needs libdevice and none is found, or libdevice lacks the function.
Status linkLibDevice(llvm::Module &module, const std::vector<std::string> &keep);

} // namespace kiln::codegen::cuda
