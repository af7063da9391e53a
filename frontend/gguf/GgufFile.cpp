#include "GgufFile.h"

#include "support/MappedFile.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include <sys/mman.h>
#include <unistd.h>

namespace kiln {

std::string GgufTensorInfo::shapeString() const {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

Result<uint64_t> ggmlTensorBytes(GgmlType type,
                                 std::span<const int64_t> dims) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  constexpr __int128 kLimit = std::numeric_limits<int64_t>::max();
  __int128 elements = 1;
  for (int64_t dim : dims) {
    if (dim < 0)
      return makeError("dimension ", std::to_string(dim), " is negative");
    elements *= dim;
    if (elements > kLimit)
      return makeError("element count overflows int64");
  }
  int64_t rowLength = dims.empty() ? 1 : dims[0];
  if (rowLength % info.blockSize != 0)
    return makeError("row length ", std::to_string(rowLength),
                     " is not a multiple of the ", std::string(info.name),
                     " block size ", std::to_string(info.blockSize));
  __int128 bytes = elements / info.blockSize * info.bytesPerBlock;
  if (bytes > kLimit)
    return makeError("byte size overflows int64");
  return static_cast<uint64_t>(bytes);
}

const GgufTensorInfo *GgufFile::findTensor(std::string_view name) const {
  auto it = tensorIndex_.find(std::string(name));
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

// Reads the file front to back. Each read checks the remaining bytes first;
// the first failure is returned with the byte position where it happened.
class GgufParser {
public:
  GgufParser(std::span<const uint8_t> bytes, GgufFile &file)
      : bytes_(bytes), file_(file) {}

  Status parse();

private:
  Error fail(uint64_t position, const std::string &what) const {
    return makeError(file_.source(), ": at byte ", std::to_string(position),
                     ": ", what);
  }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T> Status read(T &out, const char *what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T))
      return fail(pos_, std::string("file ends inside ") + what);
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::success();
  }
  Status readString(std::string &out, const char *what);
  // A count of items that each take at least `minItemBytes` in the file.
  Status readCount(uint64_t &count, uint64_t minItemBytes, const char *what);
  Status readValue(GgufValueType type, uint32_t depth, GgufValue &out);
  Status readArray(uint32_t depth, GgufArray &out);
  Status readValueType(GgufValueType &type, const char *what);
  Status readHeader(uint64_t &tensorCount, uint64_t &metadataCount);
  Status readMetadata(uint64_t count);
  Status readTensorInfos(uint64_t count);
  Status checkTensorData();

  std::span<const uint8_t> bytes_;
  GgufFile &file_;
  uint64_t pos_ = 0;
};

Status GgufParser::readString(std::string &out, const char *what) {
  uint64_t start = pos_;
  uint64_t length = 0;
  KILN_TRY(read(length, what));
  if (length > remaining())
    return fail(start, std::string(what) + " length " +
                           std::to_string(length) + " runs past the end of " +
                           "the file (" + std::to_string(remaining()) +
                           " bytes left)");
  out.assign(reinterpret_cast<const char *>(bytes_.data() + pos_), length);
  pos_ += length;
  return Status::success();
}

Status GgufParser::readCount(uint64_t &count, uint64_t minItemBytes,
                             const char *what) {
  uint64_t start = pos_;
  KILN_TRY(read(count, what));
  if (count > remaining() / minItemBytes)
    return fail(start, std::string(what) + " " + std::to_string(count) +
                           " is more than the " +
                           std::to_string(remaining()) +
                           " remaining bytes of the file can hold");
  return Status::success();
}

Status GgufParser::readValueType(GgufValueType &type, const char *what) {
  uint64_t start = pos_;
  uint32_t raw = 0;
  KILN_TRY(read(raw, what));
  if (raw >= kGgufValueTypeCount)
    return fail(start, std::string("unknown ") + what + " " +
                           std::to_string(raw));
  type = static_cast<GgufValueType>(raw);
  return Status::success();
}

namespace {

// Smallest number of file bytes one value of `type` takes.
uint64_t minValueBytes(GgufValueType type) {
  switch (type) {
  case GgufValueType::UInt8:
  case GgufValueType::Int8:
  case GgufValueType::Bool:
    return 1;
  case GgufValueType::UInt16:
  case GgufValueType::Int16:
    return 2;
  case GgufValueType::UInt32:
  case GgufValueType::Int32:
  case GgufValueType::Float32:
    return 4;
  case GgufValueType::String: // length
  case GgufValueType::UInt64:
  case GgufValueType::Int64:
  case GgufValueType::Float64:
    return 8;
  case GgufValueType::Array: // element type + count
    return 12;
  }
  return 1;
}

// Calls f with a default-constructed value of the C++ type for `type`.
template <typename F> auto withValueType(GgufValueType type, F &&f) {
  switch (type) {
  case GgufValueType::UInt8: return f(uint8_t{});
  case GgufValueType::Int8: return f(int8_t{});
  case GgufValueType::UInt16: return f(uint16_t{});
  case GgufValueType::Int16: return f(int16_t{});
  case GgufValueType::UInt32: return f(uint32_t{});
  case GgufValueType::Int32: return f(int32_t{});
  case GgufValueType::Float32: return f(float{});
  case GgufValueType::Bool: return f(bool{});
  case GgufValueType::String: return f(std::string{});
  case GgufValueType::Array: return f(GgufArray{});
  case GgufValueType::UInt64: return f(uint64_t{});
  case GgufValueType::Int64: return f(int64_t{});
  case GgufValueType::Float64: return f(double{});
  }
  return f(uint8_t{});
}

} // namespace

Status GgufParser::readValue(GgufValueType type, uint32_t depth,
                             GgufValue &out) {
  uint64_t start = pos_;
  return withValueType(type, [&](auto zero) -> Status {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, std::string>) {
      std::string text;
      KILN_TRY(readString(text, "string value"));
      out = GgufValue(std::move(text));
    } else if constexpr (std::is_same_v<T, GgufArray>) {
      GgufArray array;
      KILN_TRY(readArray(depth, array));
      out = GgufValue(std::move(array));
    } else if constexpr (std::is_same_v<T, bool>) {
      uint8_t raw = 0;
      KILN_TRY(read(raw, "bool value"));
      if (raw > 1)
        return fail(start, "bool value " + std::to_string(raw) +
                               " is neither 0 nor 1");
      out = GgufValue(raw == 1);
    } else {
      T value{};
      KILN_TRY(read(value, "numeric value"));
      out = GgufValue(value);
    }
    return Status::success();
  });
}

Status GgufParser::readArray(uint32_t depth, GgufArray &out) {
  uint64_t start = pos_;
  if (depth >= GgufFile::kMaxArrayNesting)
    return fail(start, "arrays nested more than " +
                           std::to_string(GgufFile::kMaxArrayNesting) +
                           " deep");
  GgufValueType elementType;
  KILN_TRY(readValueType(elementType, "array element type"));
  uint64_t count = 0;
  KILN_TRY(readCount(count, minValueBytes(elementType), "array length"));
  return withValueType(elementType, [&](auto zero) -> Status {
    using T = decltype(zero);
    std::vector<T> items;
    items.reserve(count); // bounded by the file size (readCount)
    for (uint64_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<T, std::string>) {
        std::string text;
        KILN_TRY(readString(text, "array string"));
        items.push_back(std::move(text));
      } else if constexpr (std::is_same_v<T, GgufArray>) {
        GgufArray inner;
        KILN_TRY(readArray(depth + 1, inner));
        items.push_back(std::move(inner));
      } else {
        GgufValue value;
        KILN_TRY(readValue(elementType, depth, value));
        items.push_back(*value.getIf<T>());
      }
    }
    out.items = std::move(items);
    return Status::success();
  });
}

Status GgufParser::readHeader(uint64_t &tensorCount, uint64_t &metadataCount) {
  uint32_t magic = 0;
  KILN_TRY(read(magic, "the magic number (the file is too short to be GGUF)"));
  if (magic != GgufFile::kMagic) {
    char shown[5] = {};
    std::memcpy(shown, &magic, 4);
    for (char &c : shown)
      if (c && (c < 0x20 || c > 0x7e))
        c = '?';
    return fail(0, std::string("bad magic '") + shown +
                       "': not a GGUF file (expected 'GGUF')");
  }
  uint32_t version = 0;
  KILN_TRY(read(version, "the version"));
  if (version == 1)
    return fail(4, "GGUF version 1 is not supported (only 2 and 3)");
  if (version == 0x02000000 || version == 0x03000000)
    return fail(4, "big-endian GGUF files are not supported");
  if (version != 2 && version != 3)
    return fail(4, "unsupported GGUF version " + std::to_string(version) +
                       " (only 2 and 3)");
  file_.version_ = version;
  // name length + dims count + one dim + type + offset
  KILN_TRY(readCount(tensorCount, 8 + 4 + 8 + 4 + 8, "tensor count"));
  // key length + value type + one byte of value
  KILN_TRY(readCount(metadataCount, 8 + 4 + 1, "metadata count"));
  return Status::success();
}

Status GgufParser::readMetadata(uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t start = pos_;
    std::string key;
    KILN_TRY(readString(key, "metadata key"));
    GgufValueType type;
    KILN_TRY(readValueType(type, "metadata value type"));
    GgufValue value;
    KILN_TRY(readValue(type, 0, value));
    if (file_.metadata_.contains(key))
      return fail(start, "metadata key '" + key + "' appears twice");
    KILN_TRY(file_.metadata_.add(std::move(key), std::move(value)));
  }
  if (const GgufValue *alignment = file_.metadata_.find("general.alignment")) {
    const uint32_t *value = alignment->getIf<uint32_t>();
    if (!value)
      return fail(pos_, "metadata key 'general.alignment' must be uint32, "
                        "found " +
                            std::string(ggufValueTypeName(alignment->type())));
    if (*value == 0 || (*value & (*value - 1)) != 0)
      return fail(pos_, "general.alignment " + std::to_string(*value) +
                            " is not a power of two");
    file_.alignment_ = *value;
  }
  return Status::success();
}

Status GgufParser::readTensorInfos(uint64_t count) {
  file_.tensors_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t start = pos_;
    GgufTensorInfo info;
    KILN_TRY(readString(info.name, "tensor name"));
    std::string label = "tensor " + std::to_string(i) + " '" + info.name + "'";
    if (file_.tensorIndex_.count(info.name))
      return fail(start, label + ": the name appears twice");

    uint32_t dimCount = 0;
    uint64_t dimsAt = pos_;
    KILN_TRY(read(dimCount, "tensor dimension count"));
    if (dimCount > GgufFile::kMaxDims)
      return fail(dimsAt, label + ": " + std::to_string(dimCount) +
                              " dimensions (at most " +
                              std::to_string(GgufFile::kMaxDims) + ")");
    for (uint32_t d = 0; d < dimCount; ++d) {
      uint64_t dimAt = pos_;
      uint64_t dim = 0;
      KILN_TRY(read(dim, "tensor dimension"));
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail(dimAt, label + ": dimension " + std::to_string(d) + " = " +
                               std::to_string(dim) + " overflows int64");
      info.dims.push_back(static_cast<int64_t>(dim));
    }

    uint64_t typeAt = pos_;
    uint32_t rawType = 0;
    KILN_TRY(read(rawType, "tensor type"));
    const GgmlTypeInfo *typeInfo = findGgmlType(rawType);
    if (!typeInfo)
      return fail(typeAt, label + ": unknown ggml type " +
                              std::to_string(rawType));
    info.type = typeInfo->type;

    auto bytes = ggmlTensorBytes(info.type, info.dims);
    if (!bytes)
      return fail(dimsAt, label + " " + info.shapeString() + " of type " +
                              std::string(typeInfo->name) + ": " +
                              bytes.error().message);
    info.byteSize = *bytes;
    info.elementCount = info.byteSize / typeInfo->bytesPerBlock *
                        typeInfo->blockSize;
    if (info.byteSize == 0) // a zero dimension: count elements directly
      info.elementCount = 0;

    uint64_t offsetAt = pos_;
    KILN_TRY(read(info.offset, "tensor data offset"));
    if (info.offset % file_.alignment_ != 0)
      return fail(offsetAt, label + ": data offset " +
                                std::to_string(info.offset) +
                                " is not a multiple of the alignment " +
                                std::to_string(file_.alignment_));
    file_.tensorIndex_.emplace(info.name, file_.tensors_.size());
    file_.tensors_.push_back(std::move(info));
  }
  return Status::success();
}

Status GgufParser::checkTensorData() {
  uint64_t alignment = file_.alignment_;
  uint64_t dataOffset = (pos_ + alignment - 1) / alignment * alignment;
  file_.dataOffset_ = dataOffset;
  if (file_.tensors_.empty())
    return Status::success();
  if (dataOffset > bytes_.size())
    return fail(pos_, "file ends before the tensor data section (which "
                      "starts at byte " +
                          std::to_string(dataOffset) + ")");
  uint64_t dataSize = bytes_.size() - dataOffset;

  std::vector<const GgufTensorInfo *> byOffset;
  for (const GgufTensorInfo &info : file_.tensors_) {
    if (info.offset > dataSize || info.byteSize > dataSize - info.offset)
      return fail(dataOffset + std::min(info.offset, dataSize),
                  "tensor '" + info.name + "': data [" +
                      std::to_string(info.offset) + ", +" +
                      std::to_string(info.byteSize) +
                      ") lies outside the data section (" +
                      std::to_string(dataSize) + " bytes)");
    if (info.byteSize > 0)
      byOffset.push_back(&info);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const auto *a, const auto *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const GgufTensorInfo &prev = *byOffset[i - 1];
    const GgufTensorInfo &next = *byOffset[i];
    if (prev.offset + prev.byteSize > next.offset)
      return fail(dataOffset + next.offset,
                  "tensor '" + next.name + "' overlaps tensor '" + prev.name +
                      "' in the data section");
  }
  return Status::success();
}

Status GgufParser::parse() {
  uint64_t tensorCount = 0, metadataCount = 0;
  KILN_TRY(readHeader(tensorCount, metadataCount));
  KILN_TRY(readMetadata(metadataCount));
  KILN_TRY(readTensorInfos(tensorCount));
  return checkTensorData();
}

Result<GgufFile> GgufFile::parse(std::span<const uint8_t> bytes,
                                 std::string source,
                                 std::shared_ptr<const void> keepAlive) {
  GgufFile file(std::move(source));
  file.keepAlive_ = std::move(keepAlive);
  file.bytes_ = bytes;
  GgufParser parser(bytes, file);
  KILN_TRY(parser.parse());
  return file;
}

Result<GgufFile> GgufFile::open(const std::string &path) {
  auto mapped = MappedFile::open(path);
  if (!mapped)
    return std::move(mapped).takeError();
  std::span<const uint8_t> bytes = (*mapped)->bytes();
  auto file = parse(bytes, path, *mapped);
  if (file)
    file->mapped_ = true;
  return file;
}

void GgufFile::releaseTensorPages(const GgufTensorInfo &tensor) const {
  if (!mapped_ || tensor.byteSize == 0)
    return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = uintptr_t(tensorData(tensor).data());
  const uintptr_t end = begin + tensor.byteSize;
  // Whole pages inside the tensor only: its neighbours keep theirs.
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first)
    ::madvise(reinterpret_cast<void *>(first), last - first, MADV_DONTNEED);
}

} // namespace kiln
