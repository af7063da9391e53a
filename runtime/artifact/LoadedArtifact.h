// An AOT artifact made ready to run, without the compiler: the artifact
// read and checked (Artifact.h); for target cpu the CPU features its code
// needs found on this host and its kernels loaded (SharedObjectKernels.h),
// for target opencl its program built for this host's OpenCL device; the
// GGUF it refers to (unless it holds every weight itself) opened and found
// unchanged since the compilation.
#pragma once

#include "gguf/GgufFile.h"
#include "runtime/Device.h"
#include "runtime/Executor.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/cpu/SharedObjectKernels.h"
#include "runtime/cpu/ThreadPool.h"
#include "support/Result.h"

#include <functional>
#include <memory>
#include <string>

namespace kiln::runtime::artifact {

// The meta keys a compiled artifact records (Artifact::meta).
namespace meta {
inline constexpr const char *kKilnVersion = "kiln_version";
inline constexpr const char *kTarget = "target";
inline constexpr const char *kCpu = "cpu";
inline constexpr const char *kCpuFeatures = "cpu_features"; // comma separated
inline constexpr const char *kOptions = "options";
inline constexpr const char *kGgufPath = "gguf_path";       // absolute
inline constexpr const char *kGgufSize = "gguf_size";
inline constexpr const char *kGgufMtime = "gguf_mtime_ns";
inline constexpr const char *kGgufSha256 = "gguf_sha256";
inline constexpr const char *kOpenClDevice = "opencl_device"; // what it was generated for
inline constexpr const char *kCudaArch = "cuda_arch";         // "sm_80"
} // namespace meta

struct LoadedArtifact {
  std::string path;
  Artifact artifact;
  // The model's metadata (tokenizer, chat template), from the artifact.
  std::unique_ptr<GgufFile> metadata;
  // The GGUF the weights the artifact does not hold come from; null when
  // it holds them all (--embed-weights).
  std::unique_ptr<GgufFile> weights;
  std::unique_ptr<SharedObjectKernels> kernels; // target cpu
  // Makes a device running the kernels on `pool` (which must outlive it).
  std::function<Result<std::unique_ptr<Device>>(ThreadPool &pool)> createDevice;
  std::string deviceName; // where the kernels run, in words

  // An executor for the artifact's plan: its stored weights used in place,
  // the others read from the GGUF. `options.laidOutWeights` is filled here.
  Result<std::unique_ptr<Executor>> makeExecutor(ThreadPool &pool,
                                                 ExecutorOptions options) const;
};

// The GGUF's SHA-256 (hex) and its modification time in nanoseconds: what
// the compiler records and the loader compares.
Result<std::string> fileSha256(const std::string &path);
Result<int64_t> fileMtimeNs(const std::string &path);

// `kernelCacheDir`: where a target that builds its code at load (opencl)
// keeps what it built; empty: no cache.
Result<LoadedArtifact> loadArtifact(const std::string &path,
                                    const std::string &kernelCacheDir = {});

} // namespace kiln::runtime::artifact
