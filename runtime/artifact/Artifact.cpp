#include "runtime/artifact/Artifact.h"

#include "runtime/artifact/ByteCodec.h"
#include "runtime/artifact/PlanCodec.h"
#include "runtime/StepArguments.h"
#include "support/AtomicFile.h"
#include "support/MappedFile.h"
#include "support/RegularFile.h"
#include "support/Sha256.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace kiln::runtime::artifact {

namespace {

constexpr size_t kNameBytes = 16;
constexpr size_t kHeaderBytes = 16;
constexpr size_t kEntryBytes = kNameBytes + 8 + 8 + 32;
constexpr uint64_t kAlign = 4096;
constexpr uint32_t kMaxSections = 64;

constexpr const char *kWeightsSection = "weights";
// The sections a version 2 artifact may hold; another name is a corrupt
// table, not something to skip.
constexpr const char *kKnownSections[] = {"meta",   "plan",          "gguf.meta",
                                          "cpu.tasks", "cpu.so",     "opencl.module", "cuda.module",
                                          "weights.index", kWeightsSection};

struct Section {
  std::string name;
  std::vector<uint8_t> bytes;
};

uint64_t alignUp(uint64_t value) { return (value + kAlign - 1) / kAlign * kAlign; }

// weights.index: u64 count, then per weight u32 plan index, u64 offset
// into the weights section, u64 size.
constexpr size_t kIndexEntryBytes = 4 + 8 + 8;

Result<std::vector<StoredWeight>> decodeWeightIndex(std::span<const uint8_t> index,
                                                    std::span<const uint8_t> weights,
                                                    size_t planWeights,
                                                    const std::string &where) {
  ByteReader r(index, where);
  uint64_t n = 0;
  KILN_READ(n, r.count("weights", kIndexEntryBytes));
  std::vector<StoredWeight> stored;
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t planIndex = 0;
    uint64_t offset = 0, size = 0;
    KILN_READ(planIndex, r.u32("plan weight"));
    KILN_READ(offset, r.u64("offset"));
    KILN_READ(size, r.u64("size"));
    if (planIndex >= planWeights || (!stored.empty() && planIndex <= stored.back().index))
      return r.fail("plan weight", std::to_string(planIndex) + " after " +
                                       (stored.empty() ? std::string("none")
                                                       : std::to_string(stored.back().index)) +
                                       " in a plan of " + std::to_string(planWeights) +
                                       " weights");
    if (offset > weights.size() || size > weights.size() - offset)
      return r.fail("offset", std::to_string(size) + " bytes at " + std::to_string(offset) +
                                  " in a weights section of " +
                                  std::to_string(weights.size()));
    stored.push_back({planIndex, weights.subspan(size_t(offset), size_t(size))});
  }
  if (r.left() != 0)
    return r.fail("end", std::to_string(r.left()) + " bytes after the last weight");
  return stored;
}

std::vector<uint8_t> encodeMeta(const std::map<std::string, std::string> &meta) {
  ByteWriter w;
  w.u64(meta.size());
  for (const auto &[key, value] : meta) {
    w.string(key);
    w.string(value);
  }
  return w.take();
}

Result<std::map<std::string, std::string>> decodeMeta(std::span<const uint8_t> bytes,
                                                      const std::string &where) {
  ByteReader r(bytes, where);
  auto n = r.count("entries", 16);
  if (!n)
    return n.error();
  std::map<std::string, std::string> meta;
  for (uint64_t i = 0; i < *n; ++i) {
    auto key = r.string("key");
    if (!key)
      return key.error();
    auto value = r.string("value of " + *key);
    if (!value)
      return value.error();
    meta[*key] = *value;
  }
  return meta;
}

} // namespace

bool looksLikeArtifact(const std::string &path) {
  auto file = openRegularFile(path);
  if (!file)
    return false;
  char magic[sizeof kMagic] = {};
  ssize_t got = ::read(file->fd, magic, sizeof magic);
  ::close(file->fd);
  return got == ssize_t(sizeof magic) && std::memcmp(magic, kMagic, sizeof magic) == 0;
}

Status writeArtifact(const std::string &path, const Artifact &artifact,
                     const std::vector<WeightToWrite> &weights) {
  std::vector<Section> sections;
  sections.push_back({"meta", encodeMeta(artifact.meta)});
  sections.push_back({"plan", encodePlan(artifact.plan)});
  sections.push_back({"gguf.meta", artifact.ggufMetadata});
  if (!artifact.cpuCode.empty()) {
    sections.push_back({"cpu.tasks", encodeTaskCounts(artifact.cpuTasks)});
    sections.push_back({"cpu.so", artifact.cpuCode});
  }
  if (artifact.openclModule)
    sections.push_back({"opencl.module", encodeOpenClModule(*artifact.openclModule)});
  if (artifact.cudaModule)
    sections.push_back({"cuda.module", encodeCudaModule(*artifact.cudaModule)});
  uint64_t weightBytes = 0;
  if (!weights.empty()) {
    ByteWriter index;
    index.u64(weights.size());
    for (const WeightToWrite &w : weights) {
      index.u32(w.index);
      index.u64(weightBytes);
      index.u64(w.size);
      weightBytes = alignUp(weightBytes + w.size);
    }
    sections.push_back({"weights.index", index.take()});
  }
  const size_t sectionCount = sections.size() + (weights.empty() ? 0 : 1);
  ByteWriter header;
  header.raw(kMagic, sizeof kMagic);
  header.u32(kFormatVersion);
  header.u32(uint32_t(sectionCount));
  uint64_t offset = kHeaderBytes + kEntryBytes * sectionCount;
  std::vector<uint64_t> offsets;
  auto entry = [&](const std::string &name, uint64_t size, const Sha256::Digest &digest) {
    offset = alignUp(offset);
    offsets.push_back(offset);
    char field[kNameBytes] = {};
    std::memcpy(field, name.data(), std::min(name.size(), kNameBytes - 1));
    header.raw(field, sizeof field);
    header.u64(offset);
    header.u64(size);
    header.raw(digest.data(), digest.size());
    offset += size;
  };
  for (const Section &s : sections)
    entry(s.name, s.bytes.size(), Sha256::of(s.bytes.data(), s.bytes.size()));
  // The weights' hash is known once they are written: its entry is
  // written again then.
  const uint64_t weightsEntryAt = kHeaderBytes + kEntryBytes * sections.size();
  if (!weights.empty())
    entry(kWeightsSection, weightBytes, Sha256::Digest{});
  auto out = AtomicFile::create(path);
  if (!out)
    return out.error();
  std::vector<uint8_t> head = header.take();
  KILN_TRY(out->write(head.data(), head.size()));
  for (size_t i = 0; i < sections.size(); ++i) {
    KILN_TRY(out->writeZeros(size_t(offsets[i] - out->bytesWritten())));
    KILN_TRY(out->write(sections[i].bytes.data(), sections[i].bytes.size()));
  }
  if (!weights.empty()) {
    const uint64_t start = offsets.back();
    KILN_TRY(out->writeZeros(size_t(start - out->bytesWritten())));
    Sha256 hash;
    WeightBuffer scratch;
    static const uint8_t zeros[kAlign] = {};
    for (const WeightToWrite &w : weights) {
      auto bytes = w.produce(scratch);
      if (!bytes)
        return makeError(path, ": ", bytes.error().message);
      if (bytes->size() != w.size)
        return makeError(path, ": weight ", std::to_string(w.index), " has ",
                         std::to_string(bytes->size()), " bytes, not the ",
                         std::to_string(w.size), " its index entry says");
      KILN_TRY(out->write(bytes->data(), bytes->size()));
      hash.update(bytes->data(), bytes->size());
      const uint64_t pad = alignUp(out->bytesWritten() - start) - (out->bytesWritten() - start);
      KILN_TRY(out->write(zeros, size_t(pad)));
      hash.update(zeros, size_t(pad));
    }
    // Written whole, so the section's size is what its entry said.
    if (out->bytesWritten() - start != weightBytes)
      return makeError(path, ": the weights took ", std::to_string(out->bytesWritten() - start),
                       " bytes, not ", std::to_string(weightBytes));
    Sha256::Digest digest = hash.finish();
    KILN_TRY(out->overwrite(weightsEntryAt + kNameBytes + 16, digest.data(), digest.size()));
  }
  return out->commit();
}

Result<Artifact> readArtifact(const std::string &path, const ReadOptions &options) {
  auto mapped = MappedFile::open(path, "the artifact");
  if (!mapped)
    return mapped.error();
  auto artifact = parseArtifact((*mapped)->bytes(), path, options);
  if (!artifact)
    return artifact;
  artifact->mapping = std::move(mapped).value();
  return artifact;
}

Result<Artifact> parseArtifact(std::span<const uint8_t> bytes, const std::string &path,
                               const ReadOptions &options) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return makeError(path, ": not a kiln artifact (no 'KILNAOT' magic at the start; ",
                     "make one with kiln compile MODEL.gguf -o FILE.kiln)");
  ByteReader header(bytes.subspan(sizeof kMagic), path + ": header");
  auto version = header.u32("format version");
  if (!version)
    return version.error();
  if (*version != kFormatVersion)
    return makeError(path, ": artifact format version ", std::to_string(*version),
                     "; this kiln reads version ", std::to_string(kFormatVersion),
                     ": compile the model again with this kiln");
  auto count = header.u32("section count");
  if (!count)
    return count.error();
  if (*count > kMaxSections || kHeaderBytes + uint64_t(*count) * kEntryBytes > bytes.size())
    return header.fail("section count", std::to_string(*count) + " sections in " +
                                            std::to_string(bytes.size()) + " bytes");
  std::map<std::string, std::span<const uint8_t>> found;
  for (uint32_t i = 0; i < *count; ++i) {
    const uint8_t *entry = bytes.data() + kHeaderBytes + i * kEntryBytes;
    std::string name(reinterpret_cast<const char *>(entry),
                     strnlen(reinterpret_cast<const char *>(entry), kNameBytes));
    uint64_t offset, size;
    std::memcpy(&offset, entry + kNameBytes, 8);
    std::memcpy(&size, entry + kNameBytes + 8, 8);
    if (offset > bytes.size() || size > bytes.size() - offset)
      return makeError(path, ": section '", name, "' (", std::to_string(size),
                       " bytes at ", std::to_string(offset), ") lies past the end of the ",
                       std::to_string(bytes.size()), "-byte file: the artifact is truncated ",
                       "or corrupt; compile it again");
    if (std::find(std::begin(kKnownSections), std::end(kKnownSections), name) ==
        std::end(kKnownSections))
      return makeError(path, ": unknown section '", name, "' in a version ",
                       std::to_string(kFormatVersion), " artifact: it is corrupt; compile it again");
    if (found.count(name))
      return makeError(path, ": section '", name, "' appears twice: the artifact is corrupt; ",
                       "compile it again");
    std::span<const uint8_t> body = bytes.subspan(size_t(offset), size_t(size));
    if (name != kWeightsSection || options.verifyWeights) {
      Sha256::Digest digest = Sha256::of(body.data(), body.size());
      if (std::memcmp(digest.data(), entry + kNameBytes + 16, digest.size()) != 0)
        return makeError(path, ": section '", name, "' does not match its SHA-256: the ",
                         "artifact is corrupt; compile it again");
    }
    found[name] = body;
  }
  auto section = [&](const char *name) -> Result<std::span<const uint8_t>> {
    auto it = found.find(name);
    if (it == found.end())
      return makeError(path, ": the artifact has no '", name, "' section");
    return it->second;
  };
  Artifact artifact;
  auto meta = section("meta");
  if (!meta)
    return meta.error();
  auto decodedMeta = decodeMeta(*meta, path + ": section meta");
  if (!decodedMeta)
    return decodedMeta.error();
  artifact.meta = std::move(decodedMeta).value();
  auto plan = section("plan");
  if (!plan)
    return plan.error();
  auto decodedPlan = decodePlan(*plan, path + ": section plan");
  if (!decodedPlan)
    return decodedPlan.error();
  artifact.plan = std::move(decodedPlan).value();
  auto ggufMeta = section("gguf.meta");
  if (!ggufMeta)
    return ggufMeta.error();
  artifact.ggufMetadata.assign(ggufMeta->begin(), ggufMeta->end());
  auto target = artifact.meta.find("target");
  const std::string targetName = target == artifact.meta.end() ? "" : target->second;
  if (targetName == "cpu") {
    auto so = section("cpu.so");
    if (!so)
      return so.error();
    auto tasks = section("cpu.tasks");
    if (!tasks)
      return tasks.error();
    auto decodedTasks =
        decodeTaskCounts(*tasks, artifact.plan.kernelSymbols.size(), path + ": section cpu.tasks");
    if (!decodedTasks)
      return decodedTasks.error();
    artifact.cpuTasks = std::move(decodedTasks).value();
    artifact.cpuCode.assign(so->begin(), so->end());
  } else if (targetName == "opencl") {
    auto module = section("opencl.module");
    if (!module)
      return module.error();
    auto decoded = decodeOpenClModule(*module, artifact.plan.kernelSymbols,
                                      path + ": section opencl.module");
    if (!decoded)
      return decoded.error();
    if (Status s = checkEntryArguments(artifact.plan, decoded->kernels,
                                       path + ": section opencl.module");
        !s)
      return Error{s.message()};
    artifact.openclModule = std::move(decoded).value();
  } else if (targetName == "cuda") {
    auto module = section("cuda.module");
    if (!module)
      return module.error();
    auto decoded = decodeCudaModule(*module, artifact.plan.kernelSymbols,
                                    path + ": section cuda.module");
    if (!decoded)
      return decoded.error();
    if (Status s = checkEntryArguments(artifact.plan, decoded->kernels,
                                       path + ": section cuda.module");
        !s)
      return Error{s.message()};
    artifact.cudaModule = std::move(decoded).value();
  }
  if (found.count("weights.index") != found.count(kWeightsSection))
    return makeError(path, ": the artifact has one of the 'weights.index' and 'weights' ",
                     "sections without the other: it is corrupt; compile it again");
  if (found.count(kWeightsSection)) {
    auto stored = decodeWeightIndex(found["weights.index"], found[kWeightsSection],
                                    artifact.plan.weightNames.size(),
                                    path + ": section weights.index");
    if (!stored)
      return stored.error();
    artifact.weights = std::move(stored).value();
  }
  return artifact;
}

} // namespace kiln::runtime::artifact
