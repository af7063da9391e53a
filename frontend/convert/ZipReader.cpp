#include "ZipReader.h"

#include <algorithm>

namespace kiln::convert {

namespace {

constexpr uint32_t kEndOfCentralDir = 0x06054b50;
constexpr uint32_t kZip64EndLocator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;

uint64_t readLE(std::span<const uint8_t> bytes, uint64_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = (value << 8) | bytes[at + static_cast<uint64_t>(i)];
  return value;
}

} // namespace

Result<ZipArchive> ZipArchive::parse(std::span<const uint8_t> bytes,
                                     std::string source) {
  auto fail = [&](auto... parts) { return makeError(source, ": ", parts...); };
  const uint64_t size = bytes.size();
  if (size < 22)
    return fail("not a zip archive (", std::to_string(size), " bytes)");
  // The end record is 22 bytes plus a comment of at most 65535.
  uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  uint64_t eocd = UINT64_MAX;
  for (uint64_t at = size - 22 + 1; at-- > lowest;)
    if (readLE(bytes, at, 4) == kEndOfCentralDir &&
        at + 22 + readLE(bytes, at + 20, 2) == size) {
      eocd = at;
      break;
    }
  if (eocd == UINT64_MAX)
    return fail("not a zip archive (no end of central directory record)");

  uint64_t count = readLE(bytes, eocd + 10, 2);
  uint64_t dirSize = readLE(bytes, eocd + 12, 4);
  uint64_t dirOffset = readLE(bytes, eocd + 16, 4);
  if (count == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff) {
    if (eocd < 20 || readLE(bytes, eocd - 20, 4) != kZip64EndLocator)
      return fail("zip64 archive without a zip64 end locator");
    uint64_t record = readLE(bytes, eocd - 20 + 8, 8);
    if (record > size || size - record < 56 ||
        readLE(bytes, record, 4) != kZip64End)
      return fail("zip64 end record at byte ", std::to_string(record),
                  " is missing or truncated");
    count = readLE(bytes, record + 32, 8);
    dirSize = readLE(bytes, record + 40, 8);
    dirOffset = readLE(bytes, record + 48, 8);
  }
  if (dirOffset > size || dirSize > size - dirOffset)
    return fail("central directory (", std::to_string(dirSize),
                " bytes at ", std::to_string(dirOffset),
                ") runs past the end of the file");
  // Each central header takes at least 46 bytes.
  if (count > dirSize / 46)
    return fail("central directory claims ", std::to_string(count),
                " entries in ", std::to_string(dirSize), " bytes");

  ZipArchive archive;
  archive.bytes_ = bytes;
  archive.source_ = std::move(source);
  uint64_t at = dirOffset, end = dirOffset + dirSize;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - at < 46 || readLE(bytes, at, 4) != kCentralHeader)
      return makeError(archive.source_, ": central directory entry ",
                       std::to_string(i), " at byte ", std::to_string(at),
                       " is malformed");
    ZipEntry entry;
    entry.flags = static_cast<uint16_t>(readLE(bytes, at + 8, 2));
    entry.method = static_cast<uint16_t>(readLE(bytes, at + 10, 2));
    entry.compressedSize = readLE(bytes, at + 20, 4);
    entry.size = readLE(bytes, at + 24, 4);
    uint64_t nameLength = readLE(bytes, at + 28, 2);
    uint64_t extraLength = readLE(bytes, at + 30, 2);
    uint64_t commentLength = readLE(bytes, at + 32, 2);
    entry.localHeaderOffset = readLE(bytes, at + 42, 4);
    if (end - at - 46 < nameLength + extraLength + commentLength)
      return makeError(archive.source_, ": central directory entry ",
                       std::to_string(i), " runs past the directory");
    entry.name.assign(reinterpret_cast<const char *>(bytes.data() + at + 46),
                      nameLength);
    // Zip64 extra field: the 64-bit values of the fields saturated above,
    // in this order.
    uint64_t extra = at + 46 + nameLength, extraEnd = extra + extraLength;
    while (extraEnd - extra >= 4) {
      uint64_t id = readLE(bytes, extra, 2), length = readLE(bytes, extra + 2, 2);
      if (extraEnd - extra - 4 < length)
        break;
      if (id == 0x0001) {
        uint64_t field = extra + 4, fieldEnd = field + length;
        for (uint64_t *value : {&entry.size, &entry.compressedSize,
                                &entry.localHeaderOffset})
          if (*value == 0xffffffff) {
            if (fieldEnd - field < 8)
              return makeError(archive.source_, ": entry '", entry.name,
                               "': zip64 extra field is too short");
            *value = readLE(bytes, field, 8);
            field += 8;
          }
      }
      extra += 4 + length;
    }
    at += 46 + nameLength + extraLength + commentLength;
    archive.index_.emplace(entry.name, archive.entries_.size());
    archive.entries_.push_back(std::move(entry));
  }
  return archive;
}

const ZipEntry *ZipArchive::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Result<std::span<const uint8_t>>
ZipArchive::contents(const ZipEntry &entry) const {
  auto fail = [&](auto... parts) {
    return makeError(source_, ": entry '", entry.name, "': ", parts...);
  };
  if (entry.flags & 1)
    return fail("is encrypted");
  if (entry.method != 0)
    return fail("is compressed (method ", std::to_string(entry.method),
                "); only stored entries are read, as torch.save writes them "
                "(re-save the checkpoint, or convert it to safetensors)");
  if (entry.compressedSize != entry.size)
    return fail("stored entry with compressed size ",
                std::to_string(entry.compressedSize), " != size ",
                std::to_string(entry.size));
  uint64_t size = bytes_.size(), at = entry.localHeaderOffset;
  if (at > size || size - at < 30 || readLE(bytes_, at, 4) != kLocalHeader)
    return fail("local header at byte ", std::to_string(at),
                " is missing or truncated");
  uint64_t start = at + 30 + readLE(bytes_, at + 26, 2) + readLE(bytes_, at + 28, 2);
  if (start > size || entry.size > size - start)
    return fail(std::to_string(entry.size), " bytes at byte ",
                std::to_string(start), " run past the end of the file");
  return bytes_.subspan(start, entry.size);
}

} // namespace kiln::convert
