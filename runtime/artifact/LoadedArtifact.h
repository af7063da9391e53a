// An AOT artifact made ready to run, without the compiler: the artifact
// read and checked (Artifact.h), the CPU features its code needs found on
// this host, the GGUF it refers to opened and found unchanged since the
// compilation, and its kernels loaded (SharedObjectKernels.h).
#pragma once

#include "gguf/GgufFile.h"
#include "runtime/Device.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/cpu/SharedObjectKernels.h"
#include "runtime/cpu/ThreadPool.h"
#include "support/Result.h"

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
} // namespace meta

struct LoadedArtifact {
  std::string path;
  Artifact artifact;
  std::unique_ptr<GgufFile> weights;
  std::unique_ptr<SharedObjectKernels> kernels;

  // A device running the kernels on `pool` (which must outlive it).
  std::unique_ptr<Device> createDevice(ThreadPool &pool) const;
};

// The GGUF's SHA-256 (hex) and its modification time in nanoseconds: what
// the compiler records and the loader compares.
Result<std::string> fileSha256(const std::string &path);
Result<int64_t> fileMtimeNs(const std::string &path);

Result<LoadedArtifact> loadArtifact(const std::string &path);

} // namespace kiln::runtime::artifact
