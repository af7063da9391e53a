#include "runtime/artifact/Artifact.h"

#include "runtime/artifact/ByteCodec.h"
#include "runtime/artifact/PlanCodec.h"
#include "support/AtomicFile.h"
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

struct Section {
  std::string name;
  std::vector<uint8_t> bytes;
};

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

Result<std::vector<uint8_t>> readWhole(const std::string &path) {
  auto file = openRegularFile(path, "the artifact");
  if (!file)
    return file.error();
  std::vector<uint8_t> bytes(size_t(file->size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(file->fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      std::string why = got < 0 ? std::strerror(errno) : "it ended early";
      ::close(file->fd);
      return makeError(path, ": cannot read the artifact: ", why);
    }
    done += size_t(got);
  }
  ::close(file->fd);
  return bytes;
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

Status writeArtifact(const std::string &path, const Artifact &artifact) {
  std::vector<Section> sections;
  sections.push_back({"meta", encodeMeta(artifact.meta)});
  sections.push_back({"plan", encodePlan(artifact.plan)});
  if (!artifact.cpuCode.empty()) {
    sections.push_back({"cpu.tasks", encodeTaskCounts(artifact.cpuTasks)});
    sections.push_back({"cpu.so", artifact.cpuCode});
  }
  ByteWriter header;
  header.raw(kMagic, sizeof kMagic);
  header.u32(kFormatVersion);
  header.u32(uint32_t(sections.size()));
  uint64_t offset = kHeaderBytes + kEntryBytes * sections.size();
  std::vector<uint64_t> offsets;
  for (const Section &s : sections) {
    offset = (offset + kAlign - 1) / kAlign * kAlign;
    offsets.push_back(offset);
    char name[kNameBytes] = {};
    std::memcpy(name, s.name.data(), std::min(s.name.size(), kNameBytes - 1));
    header.raw(name, sizeof name);
    header.u64(offset);
    header.u64(s.bytes.size());
    Sha256::Digest digest = Sha256::of(s.bytes.data(), s.bytes.size());
    header.raw(digest.data(), digest.size());
    offset += s.bytes.size();
  }
  auto out = AtomicFile::create(path);
  if (!out)
    return out.error();
  std::vector<uint8_t> head = header.take();
  KILN_TRY(out->write(head.data(), head.size()));
  for (size_t i = 0; i < sections.size(); ++i) {
    KILN_TRY(out->writeZeros(size_t(offsets[i] - out->bytesWritten())));
    KILN_TRY(out->write(sections[i].bytes.data(), sections[i].bytes.size()));
  }
  return out->commit();
}

Result<Artifact> readArtifact(const std::string &path) {
  auto file = readWhole(path);
  if (!file)
    return file.error();
  return parseArtifact(*file, path);
}

Result<Artifact> parseArtifact(std::span<const uint8_t> bytes, const std::string &path) {
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
    // Version 1 has these sections and no others: another name is a
    // corrupt table, not something to skip.
    if (name != "meta" && name != "plan" && name != "cpu.tasks" && name != "cpu.so")
      return makeError(path, ": unknown section '", name, "' in a version ",
                       std::to_string(kFormatVersion), " artifact: it is corrupt; compile it again");
    if (found.count(name))
      return makeError(path, ": section '", name, "' appears twice: the artifact is corrupt; ",
                       "compile it again");
    std::span<const uint8_t> body = bytes.subspan(size_t(offset), size_t(size));
    Sha256::Digest digest = Sha256::of(body.data(), body.size());
    if (std::memcmp(digest.data(), entry + kNameBytes + 16, digest.size()) != 0)
      return makeError(path, ": section '", name, "' does not match its SHA-256: the ",
                       "artifact is corrupt; compile it again");
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
  auto target = artifact.meta.find("target");
  if (target != artifact.meta.end() && target->second == "cpu") {
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
  }
  return artifact;
}

} // namespace kiln::runtime::artifact
