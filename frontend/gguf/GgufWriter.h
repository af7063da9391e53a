// Writes GGUF files in the layout llama.cpp writes: header, metadata,
// tensor infos, then each tensor's data at the next multiple of the
// alignment, padded with zeros. A file that is read and written back
// unchanged comes out byte-identical.
#pragma once

#include "GgufFile.h"
#include "GgufMetadata.h"
#include "support/Result.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace kiln {

class GgufWriter {
public:
  // Fills a tensor's bytes (exactly its byte size) when the file is written,
  // so large tensors need not all be held in memory at once.
  using Filler = std::function<Status(std::span<uint8_t> out)>;

  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // A writer holding the same metadata and tensors as `file`, referring to
  // its tensor data in place.
  static GgufWriter copyOf(const GgufFile &file);

  GgufMetadata &metadata() { return metadata_; }

  Status addTensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                   std::span<const uint8_t> data);
  Status addTensor(std::string name, GgmlType type, std::vector<int64_t> dims,
                   Filler filler);

  // Called after each tensor's data is written: (tensors done, in all).
  using Progress = std::function<void(size_t done, size_t total)>;

  // Writes to a temporary file beside `path` and renames it into place.
  Status write(const std::string &path, const Progress &progress = {}) const;

  // The header write() starts with: magic, version, metadata and tensor
  // infos. With no tensors it is a whole GGUF file (metadata only).
  std::vector<uint8_t> encodeHeader() const;

  // Where each tensor's data will start, relative to the data section.
  const std::vector<GgufTensorInfo> &tensors() const { return tensors_; }

private:
  Status addTensorInfo(std::string name, GgmlType type,
                       std::vector<int64_t> dims);
  uint32_t alignment() const;

  uint32_t version_;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::vector<Filler> fillers_;
};

} // namespace kiln
