// Builders of small checkpoint files for the convert tests: safetensors
// files, stored zip archives and hand-written pickles.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace kiln::test {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

inline void putLE(std::vector<uint8_t> &out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// A header (JSON text) and data, glued as the format wants.
inline std::vector<uint8_t> safetensorsBytes(const std::string &header,
                                             const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out;
  putLE(out, header.size(), 8);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline std::vector<uint8_t>
safetensorsBytes(const std::vector<SafetensorsEntry> &entries) {
  std::string header = "{";
  std::vector<uint8_t> data;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto &e = entries[i];
    std::string shape;
    for (size_t d = 0; d < e.shape.size(); ++d)
      shape += (d ? "," : "") + std::to_string(e.shape[d]);
    header += (i ? "," : "") + std::string("\"") + e.name + "\":{\"dtype\":\"" +
              e.dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," +
              std::to_string(data.size() + e.bytes.size()) + "]}";
    data.insert(data.end(), e.bytes.begin(), e.bytes.end());
  }
  header += "}";
  return safetensorsBytes(header, data);
}

inline void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

struct ZipMember {
  std::string name;
  std::vector<uint8_t> bytes;
  uint16_t method = 0; // claimed; the bytes are written as given
};

// A zip archive of stored members (CRCs left zero: the reader does not
// check them, as torch does not either).
inline std::vector<uint8_t> zipBytes(const std::vector<ZipMember> &members) {
  std::vector<uint8_t> out, directory;
  for (const ZipMember &m : members) {
    uint64_t offset = out.size();
    putLE(out, 0x04034b50, 4);
    putLE(out, 20, 2);
    putLE(out, 0, 2);
    putLE(out, m.method, 2);
    putLE(out, 0, 4); // time, date
    putLE(out, 0, 4); // crc
    putLE(out, m.bytes.size(), 4);
    putLE(out, m.bytes.size(), 4);
    putLE(out, m.name.size(), 2);
    putLE(out, 0, 2);
    out.insert(out.end(), m.name.begin(), m.name.end());
    out.insert(out.end(), m.bytes.begin(), m.bytes.end());

    putLE(directory, 0x02014b50, 4);
    putLE(directory, 20, 2);
    putLE(directory, 20, 2);
    putLE(directory, 0, 2);
    putLE(directory, m.method, 2);
    putLE(directory, 0, 4);
    putLE(directory, 0, 4);
    putLE(directory, m.bytes.size(), 4);
    putLE(directory, m.bytes.size(), 4);
    putLE(directory, m.name.size(), 2);
    putLE(directory, 0, 2);
    putLE(directory, 0, 2);
    putLE(directory, 0, 2);
    putLE(directory, 0, 2);
    putLE(directory, 0, 4);
    putLE(directory, offset, 4);
    directory.insert(directory.end(), m.name.begin(), m.name.end());
  }
  uint64_t dirOffset = out.size();
  out.insert(out.end(), directory.begin(), directory.end());
  putLE(out, 0x06054b50, 4);
  putLE(out, 0, 4);
  putLE(out, members.size(), 2);
  putLE(out, members.size(), 2);
  putLE(out, directory.size(), 4);
  putLE(out, dirOffset, 4);
  putLE(out, 0, 2);
  return out;
}

inline std::vector<uint8_t> bytesOf(const std::string &text) {
  return {text.begin(), text.end()};
}

} // namespace kiln::test
