// An AOT artifact (`kiln compile MODEL -o model.kiln`): a model compiled
// ahead of time, run without the compiler. One file:
//
//   "KILNAOT\0"  u32 format version  u32 section count
//   per section: 16-byte name (NUL padded), u64 offset, u64 size,
//                32-byte SHA-256 of the section's bytes
//   the sections, each at a multiple of 4096 bytes
//
// Sections:
//   meta           key/value text: kiln's version, the target, the CPU and
//                  features the code needs, the compile options, the GGUF
//                  the weights come from with its size, time and SHA-256
//   plan           the execution plan
//   gguf.meta      the model's GGUF metadata (a GGUF with no tensors): the
//                  tokenizer and chat template the runner needs
//   cpu.tasks, cpu.so      target cpu: task counts and an ELF shared object
//   opencl.module  target opencl: the OpenCL C program and its launches
//   cuda.module    target cuda: the PTX module and its launches
//   weights.index, weights the weights the artifact holds, each already in
//                  the layout its plan entry names (repacked for the
//                  target, requantized by --precision auto, or all of them
//                  with --embed-weights), page aligned; any other weight is
//                  read from the GGUF, which the runner maps
// Reading maps the file, checks the magic, the version, every section's
// bounds and the hash of every section but `weights` (gigabytes, read in
// place: its hash is checked on request), and names the file, the section
// and the field of any problem.
#pragma once

#include "runtime/ExecutionPlan.h"
#include "runtime/WeightLayout.h"
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cuda/CudaModule.h"
#include "runtime/opencl/OpenClModule.h"
#include "support/Result.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kiln::runtime::artifact {

inline constexpr uint32_t kFormatVersion = 2;
// kiln's version, recorded in each artifact's meta.
inline constexpr const char *kKilnVersion = "0.1.0";
inline constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'A', 'O', 'T', '\0'};

// A weight the artifact holds: the bytes of plan.weightNames[index] in
// plan.weightLayouts[index], as the kernels read them.
struct StoredWeight {
  uint32_t index = 0;
  std::span<const uint8_t> bytes; // into Artifact::mapping
};

struct Artifact {
  std::map<std::string, std::string> meta;
  ExecutionPlan plan;
  std::vector<uint8_t> ggufMetadata; // a GGUF file with no tensors
  std::vector<TaskCount> cpuTasks;   // one per kernel (target cpu)
  std::vector<uint8_t> cpuCode;      // the kernels' shared object (target cpu)
  std::optional<opencl::OpenClModule> openclModule; // target opencl
  std::optional<cuda::CudaModule> cudaModule;       // target cuda
  std::vector<StoredWeight> weights; // ascending index, each index once
  std::shared_ptr<const void> mapping; // keeps `weights` valid
};

// A weight to write: `size` bytes that `produce` hands over when the
// writer reaches it (in `scratch` or elsewhere; valid until the next
// call), so a model's weights need not all be in memory at once.
struct WeightToWrite {
  uint32_t index = 0;
  uint64_t size = 0;
  std::function<Result<std::span<const uint8_t>>(WeightBuffer &scratch)> produce;
};

struct ReadOptions {
  bool verifyWeights = false; // also hash the weights section
};

// Whether the file at `path` starts with the artifact magic (a GGUF does
// not): how `kiln run` tells the two apart.
bool looksLikeArtifact(const std::string &path);

// Writes `artifact` (but its `weights`) and `weights` to `path`
// atomically (temporary file, then rename).
Status writeArtifact(const std::string &path, const Artifact &artifact,
                     const std::vector<WeightToWrite> &weights = {});

// Maps the file and parses it; the weights point into the mapping.
Result<Artifact> readArtifact(const std::string &path, const ReadOptions &options = {});
// The same on bytes in memory (which must outlive the stored weights);
// `name` stands for the file in errors.
Result<Artifact> parseArtifact(std::span<const uint8_t> bytes, const std::string &name,
                               const ReadOptions &options = {});

} // namespace kiln::runtime::artifact
