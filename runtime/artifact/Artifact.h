// An AOT artifact (`kiln compile MODEL -o model.kiln`): a model compiled
// ahead of time, run without the compiler. One file:
//
//   "KILNAOT\0"  u32 format version  u32 section count
//   per section: 16-byte name (NUL padded), u64 offset, u64 size,
//                32-byte SHA-256 of the section's bytes
//   the sections, each at a multiple of 4096 bytes
//
// Sections: "meta" (key/value text: kiln's version, the target, the CPU
// and features the code needs, the compile options, the GGUF the weights
// come from with its size, time and SHA-256), "plan" (the execution plan),
// and per target its code: "cpu.tasks" and "cpu.so" (an ELF shared object
// of the kernels). The weights stay in the GGUF, which the runner maps.
// Reading checks the magic, the version, every section's bounds and hash,
// and names the file, the section and the field of any problem.
#pragma once

#include "runtime/ExecutionPlan.h"
#include "runtime/cpu/CpuKernel.h"
#include "support/Result.h"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime::artifact {

inline constexpr uint32_t kFormatVersion = 1;
// kiln's version, recorded in each artifact's meta.
inline constexpr const char *kKilnVersion = "0.1.0";
inline constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'A', 'O', 'T', '\0'};

struct Artifact {
  std::map<std::string, std::string> meta;
  ExecutionPlan plan;
  std::vector<TaskCount> cpuTasks; // one per kernel (target cpu)
  std::vector<uint8_t> cpuCode;    // the kernels' shared object (target cpu)
};

// Whether the file at `path` starts with the artifact magic (a GGUF does
// not): how `kiln run` tells the two apart.
bool looksLikeArtifact(const std::string &path);

// Writes `artifact` to `path` atomically (temporary file, then rename).
Status writeArtifact(const std::string &path, const Artifact &artifact);

Result<Artifact> readArtifact(const std::string &path);
// The same on bytes in memory; `name` stands for the file in errors.
Result<Artifact> parseArtifact(std::span<const uint8_t> bytes, const std::string &name);

} // namespace kiln::runtime::artifact
