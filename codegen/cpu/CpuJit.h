// Compiles a lowered model's kernels for the host CPU with LLVM and loads
// them in process (ORC LLJIT). The JIT object owns the code: keep it alive
// while the kernels run.
#pragma once

#include "codegen/KernelModule.h"
#include "codegen/LoweredModel.h"
#include "runtime/ExecutionPlan.h"
#include "runtime/cpu/CpuKernel.h"
#include "support/Result.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm::orc {
class LLJIT;
}

namespace kiln::codegen::cpu {

struct CpuOptions {
  // LLVM feature string, e.g. "+avx2,+fma,+f16c"; empty: the host's.
  std::string features;
  // Receives the optimized LLVM IR of the kernels when set (the cache is
  // then not read, since the IR only exists when LLVM runs).
  std::string *irOut = nullptr;
  // Keeps compiled kernels here, keyed by a hash of the kernels' LLVM IR,
  // the CPU, its features and the LLVM version; empty: no cache. Entries
  // are checked before use (runtime/KernelCache.h); a bad one is reported
  // on stderr, removed and compiled again.
  std::string cacheDir;
};

// $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln.
std::string defaultCacheDir();

class CpuJit final : public KernelModule {
public:
  static Result<std::unique_ptr<CpuJit>> compile(const LoweredModel &model,
                                                 const CpuOptions &options);
  ~CpuJit() override;

  std::string_view targetName() const override { return "cpu"; }
  std::string deviceName() const override { return cpuName_; }
  // A CpuDevice running the kernels on `pool`.
  Result<std::unique_ptr<runtime::Device>>
  createDevice(runtime::ThreadPool &pool) const override;

  // kernels()[i] runs plan.kernelSymbols[i], with its task count.
  const std::vector<runtime::CpuKernel> &kernels() const { return kernels_; }
  const std::string &cpuName() const { return cpuName_; }
  // The kernels came from the cache (no LLVM optimization or codegen ran).
  bool cacheHit() const override { return cacheHit_; }

private:
  CpuJit() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::vector<runtime::CpuKernel> kernels_;
  std::string cpuName_;
  bool cacheHit_ = false;
};

} // namespace kiln::codegen::cpu
