#include "runtime/artifact/LoadedArtifact.h"

#include "runtime/cpu/CpuDevice.h"
#include "runtime/cpu/HostFeatures.h"
#include "runtime/cuda/CudaDevice.h"
#if KILN_HAVE_OPENCL
#include "runtime/opencl/OpenClDevice.h"
#include "runtime/opencl/OpenClProgram.h"
#endif
#include "support/RegularFile.h"
#include "support/Sha256.h"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace kiln::runtime::artifact {

namespace {

std::vector<std::string> splitCommas(const std::string &text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start)
      parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// A meta value, empty when the key is absent.
std::string metaField(const Artifact &artifact, const char *key) {
  auto it = artifact.meta.find(key);
  return it == artifact.meta.end() ? std::string() : it->second;
}

std::string joined(const std::vector<std::string> &parts) {
  std::string text;
  for (const std::string &part : parts)
    text += (text.empty() ? "" : ", ") + part;
  return text;
}

// The GGUF must be the file the artifact was compiled against: the same
// size, and the same time or else the same SHA-256 (a copy or a touch
// keeps it valid; hashing gigabytes only happens then).
Status checkWeightsUnchanged(const std::string &artifactPath, const Artifact &artifact,
                             const std::string &gguf) {
  auto field = [&](const char *key) { return metaField(artifact, key); };
  struct stat info;
  if (stat(gguf.c_str(), &info) != 0)
    return makeError(artifactPath, ": the GGUF it was compiled from, ", gguf,
                     ", cannot be opened (", std::strerror(errno),
                     "): put it back or compile the model again");
  if (std::to_string(uint64_t(info.st_size)) != field(meta::kGgufSize))
    return makeError(artifactPath, ": ", gguf, " changed since the artifact was compiled (",
                     std::to_string(uint64_t(info.st_size)), " bytes, ", field(meta::kGgufSize),
                     " then): compile the model again");
  auto mtime = fileMtimeNs(gguf);
  if (mtime && std::to_string(*mtime) == field(meta::kGgufMtime))
    return Status::success();
  auto digest = fileSha256(gguf);
  if (!digest)
    return digest.error();
  if (*digest != field(meta::kGgufSha256))
    return makeError(artifactPath, ": ", gguf,
                     " changed since the artifact was compiled (its SHA-256 differs): "
                     "compile the model again");
  return Status::success();
}

} // namespace

Result<std::string> fileSha256(const std::string &path) {
  auto file = openRegularFile(path, "the GGUF");
  if (!file)
    return file.error();
  Sha256 hash;
  std::vector<uint8_t> buffer(1 << 20);
  for (;;) {
    ssize_t got = ::read(file->fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      std::string why = std::strerror(errno);
      ::close(file->fd);
      return makeError(path, ": cannot read the GGUF: ", why);
    }
    if (got == 0)
      break;
    hash.update(buffer.data(), size_t(got));
  }
  ::close(file->fd);
  return toHex(hash.finish());
}

Result<int64_t> fileMtimeNs(const std::string &path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0)
    return makeError(path, ": ", std::strerror(errno));
  return int64_t(info.st_mtim.tv_sec) * 1000000000 + int64_t(info.st_mtim.tv_nsec);
}

Result<std::unique_ptr<Executor>> LoadedArtifact::makeExecutor(ThreadPool &pool,
                                                               ExecutorOptions options) const {
  options.laidOutWeights.assign(artifact.plan.weightNames.size(), {});
  for (const StoredWeight &w : artifact.weights)
    options.laidOutWeights[w.index] = w.bytes;
  auto device = createDevice(pool);
  if (!device)
    return std::move(device).takeError();
  // With every weight stored, the metadata GGUF stands in for the file: no
  // tensor is looked up in it.
  return Executor::create(artifact.plan, std::move(device).value(),
                          weights ? *weights : *metadata, options);
}

namespace {

Status loadCpuKernels(LoadedArtifact &loaded) {
  const std::string &path = loaded.path;
  auto field = [&](const char *key) { return metaField(loaded.artifact, key); };
  if (loaded.artifact.cpuCode.empty())
    return makeError(path, ": the artifact has no 'cpu.so' section");
  std::vector<std::string> missing = missingCpuFeatures(splitCommas(field(meta::kCpuFeatures)));
  if (!missing.empty())
    return makeError(path, ": compiled for CPU '", field(meta::kCpu),
                     "', whose code uses ", joined(missing),
                     ", which this CPU lacks: compile it for this machine (kiln compile ",
                     "MODEL --cpu native) or a lower level (--cpu x86-64-v3)");
  auto kernels = SharedObjectKernels::load(loaded.artifact.cpuCode,
                                           loaded.artifact.plan.kernelSymbols,
                                           loaded.artifact.cpuTasks, path);
  if (!kernels)
    return kernels.error();
  loaded.kernels = std::move(kernels).value();
  const SharedObjectKernels *so = loaded.kernels.get();
  loaded.createDevice = [so](ThreadPool &pool) -> Result<std::unique_ptr<Device>> {
    return std::unique_ptr<Device>(std::make_unique<CpuDevice>(so->kernels(), pool));
  };
  loaded.deviceName = "cpu " + field(meta::kCpu);
  return Status::success();
}

Status loadOpenClProgram(LoadedArtifact &loaded, const std::string &cacheDir) {
#if KILN_HAVE_OPENCL
  const std::string &path = loaded.path;
  auto context = opencl::OpenClContext::open();
  if (!context)
    return makeError(path, ": compiled for target opencl: ", context.error().message);
  // A copy: a failed build drops the context, and the message names its device.
  const opencl::DeviceFacts facts = (*context)->facts();
  auto program = opencl::OpenClProgram::build(
      std::move(context).value(), *loaded.artifact.openclModule, cacheDir,
      [](const std::string &warning) { std::cerr << "kiln: warning: " << warning << "\n"; });
  if (!program)
    return makeError(path, ": its OpenCL program does not build for ", facts.device, " (",
                     facts.platform, "): ", program.error().message);
  std::shared_ptr<opencl::OpenClProgram> shared = std::move(program).value();
  loaded.createDevice = [shared](ThreadPool &) -> Result<std::unique_ptr<Device>> {
    return std::unique_ptr<Device>(std::make_unique<opencl::OpenClDevice>(shared));
  };
  loaded.deviceName = "opencl " + facts.device + " (" + facts.platform + ")";
  return Status::success();
#else
  (void)cacheDir;
  return makeError(loaded.path, ": compiled for target opencl, and this kiln was built ",
                   "without OpenCL (install an OpenCL ICD loader and rebuild)");
#endif
}

// The PTX module loaded on the CUDA device (the driver compiles it for the
// GPU and keeps the result in its own cache).
Status loadCudaProgram(LoadedArtifact &loaded) {
  auto context = cuda::CudaContext::open();
  if (!context)
    return makeError(loaded.path, ": compiled for target cuda: ", context.error().message);
  const cuda::CudaFacts facts = (*context)->facts();
  auto program = cuda::CudaProgram::load(std::move(context).value(),
                                         *loaded.artifact.cudaModule);
  if (!program)
    return makeError(loaded.path, ": ", program.error().message);
  std::shared_ptr<cuda::CudaProgram> shared = std::move(program).value();
  loaded.createDevice = [shared](ThreadPool &) -> Result<std::unique_ptr<Device>> {
    return std::unique_ptr<Device>(std::make_unique<cuda::CudaDevice>(shared));
  };
  loaded.deviceName = "cuda " + facts.name + " (sm_" + std::to_string(facts.sm()) +
                      ", kernels for " + loaded.artifact.cudaModule->arch + ")";
  return Status::success();
}

} // namespace

Result<LoadedArtifact> loadArtifact(const std::string &path, const std::string &kernelCacheDir) {
  auto read = readArtifact(path);
  if (!read)
    return read.error();
  LoadedArtifact loaded;
  loaded.path = path;
  loaded.artifact = std::move(read).value();
  auto field = [&](const char *key) { return metaField(loaded.artifact, key); };
  std::string target = field(meta::kTarget);
  if (target == "cpu")
    KILN_TRY(loadCpuKernels(loaded));
  else if (target == "opencl")
    KILN_TRY(loadOpenClProgram(loaded, kernelCacheDir));
  else if (target == "cuda")
    KILN_TRY(loadCudaProgram(loaded));
  else
    return makeError(path, ": compiled for target '", target,
                     "', which this runner cannot run (it runs cpu, opencl and cuda "
                     "artifacts)");
  auto metadata = GgufFile::parse(loaded.artifact.ggufMetadata, path + ": section gguf.meta");
  if (!metadata)
    return metadata.error();
  loaded.metadata = std::make_unique<GgufFile>(std::move(metadata).value());
  if (loaded.artifact.weights.size() < loaded.artifact.plan.weightNames.size()) {
    std::string gguf = field(meta::kGgufPath);
    if (gguf.empty())
      return makeError(path, ": the artifact does not name the GGUF its weights come from");
    KILN_TRY(checkWeightsUnchanged(path, loaded.artifact, gguf));
    auto weights = GgufFile::open(gguf);
    if (!weights)
      return weights.error();
    loaded.weights = std::make_unique<GgufFile>(std::move(weights).value());
  }
  return loaded;
}

} // namespace kiln::runtime::artifact
