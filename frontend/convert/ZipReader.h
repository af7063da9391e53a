// The entries of a zip archive (the container torch.save writes), found
// through the central directory, zip64 included. Only stored (uncompressed)
// entries can be read: torch.save writes nothing else, and reading an entry
// in place needs its bytes as they are.
#pragma once

#include "support/Result.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::convert {

struct ZipEntry {
  std::string name;
  uint16_t method = 0; // 0 = stored, 8 = deflate, ...
  uint16_t flags = 0;
  uint64_t compressedSize = 0;
  uint64_t size = 0;
  uint64_t localHeaderOffset = 0;
};

class ZipArchive {
public:
  // Reads the central directory of `bytes` (`source` names the file).
  static Result<ZipArchive> parse(std::span<const uint8_t> bytes,
                                  std::string source);

  const std::vector<ZipEntry> &entries() const { return entries_; }
  const ZipEntry *find(std::string_view name) const;
  // The bytes of a stored entry, checked against its local header.
  Result<std::span<const uint8_t>> contents(const ZipEntry &entry) const;

private:
  std::span<const uint8_t> bytes_;
  std::string source_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

} // namespace kiln::convert
