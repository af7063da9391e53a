// A parsed GGUF file (versions 2 and 3): header, metadata, tensor table, and
// the tensor data, read in place from a memory mapping.
//
// Parsing treats the file as hostile: every length, count, dimension and
// offset is checked against the bytes that are really there before it is
// used, so a bad file yields an error naming the byte position and the
// problem, never a crash or an allocation larger than the file.
#pragma once

#include "GgufMetadata.h"
#include "quant/GgmlType.h"
#include "support/Result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln {

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims; // dims[0] is ne[0], the contiguous dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0; // from the start of the data section
  uint64_t elementCount = 0;
  uint64_t byteSize = 0;

  std::string shapeString() const; // e.g. "[256, 1000]"
};

class GgufFile {
public:
  static constexpr uint32_t kMagic = 0x46554747; // "GGUF" little-endian
  static constexpr uint32_t kDefaultAlignment = 32;
  static constexpr uint32_t kMaxDims = 4;
  static constexpr uint32_t kMaxArrayNesting = 8;

  // Maps and parses a file.
  static Result<GgufFile> open(const std::string &path);
  // Parses bytes that `keepAlive` (if any) keeps valid; `source` names them
  // in error messages.
  static Result<GgufFile> parse(std::span<const uint8_t> bytes,
                                std::string source,
                                std::shared_ptr<const void> keepAlive = {});

  const std::string &source() const { return metadata_.source(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t dataOffset() const { return dataOffset_; }
  uint64_t fileSize() const { return bytes_.size(); }
  // The whole file as mapped: header, metadata and tensor data.
  std::span<const uint8_t> bytes() const { return bytes_; }

  const GgufMetadata &metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo> &tensors() const { return tensors_; }
  const GgufTensorInfo *findTensor(std::string_view name) const;
  std::span<const uint8_t> tensorData(const GgufTensorInfo &tensor) const {
    return bytes_.subspan(dataOffset_ + tensor.offset, tensor.byteSize);
  }
  // For a file opened with open(): hands the pages of the tensor's data
  // that were read back to the page cache (they stop counting in this
  // process's memory; a later read maps them again from the file). For
  // one whose copy is all a reader needs. Parsed bytes are left alone.
  void releaseTensorPages(const GgufTensorInfo &tensor) const;

private:
  friend class GgufParser;
  explicit GgufFile(std::string source) : metadata_(std::move(source)) {}

  std::shared_ptr<const void> keepAlive_;
  bool mapped_ = false; // bytes_ is a read-only file mapping (open())
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t dataOffset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensorIndex_;
};

// Bytes of a tensor of `type` with these dims, or an error if the row length
// is not a whole number of blocks or the size overflows int64.
Result<uint64_t> ggmlTensorBytes(GgmlType type, std::span<const int64_t> dims);

} // namespace kiln
