#include "GgufWriter.h"

#include "support/AtomicFile.h"

#include <cstring>
#include <type_traits>
#include <unordered_set>

namespace kiln {

namespace {

uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// Serializes header pieces into a byte buffer (little-endian host).
class ByteBuffer {
public:
  template <typename T> void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto *p = reinterpret_cast<const uint8_t *>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void putString(const std::string &text) {
    put<uint64_t>(text.size());
    bytes.insert(bytes.end(), text.begin(), text.end());
  }
  void putArray(const GgufArray &array) {
    put<uint32_t>(static_cast<uint32_t>(array.elementType()));
    put<uint64_t>(array.size());
    std::visit(
        [&](const auto &items) {
          using E = typename std::decay_t<decltype(items)>::value_type;
          for (const auto &item : items) {
            if constexpr (std::is_same_v<E, std::string>)
              putString(item);
            else if constexpr (std::is_same_v<E, GgufArray>)
              putArray(item);
            else if constexpr (std::is_same_v<E, bool>)
              put<uint8_t>(item ? 1 : 0);
            else
              put<E>(item);
          }
        },
        array.items);
  }
  void putValue(const GgufValue &value) {
    std::visit(
        [&](const auto &v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>)
            putString(v);
          else if constexpr (std::is_same_v<T, GgufArray>)
            putArray(v);
          else if constexpr (std::is_same_v<T, bool>)
            put<uint8_t>(v ? 1 : 0);
          else
            put<T>(v);
        },
        value.storage());
  }

  std::vector<uint8_t> bytes;
};

} // namespace

GgufWriter GgufWriter::copyOf(const GgufFile &file) {
  GgufWriter writer(file.version());
  for (const auto &[key, value] : file.metadata().entries())
    writer.metadata_.set(key, value);
  for (const GgufTensorInfo &tensor : file.tensors()) {
    // The source file was validated, so adding cannot fail.
    Status added = writer.addTensor(tensor.name, tensor.type, tensor.dims,
                                    file.tensorData(tensor));
    (void)added;
  }
  return writer;
}

uint32_t GgufWriter::alignment() const {
  if (const GgufValue *value = metadata_.find("general.alignment"))
    if (const uint32_t *alignment = value->getIf<uint32_t>())
      return *alignment;
  return GgufFile::kDefaultAlignment;
}

Status GgufWriter::addTensorInfo(std::string name, GgmlType type,
                                 std::vector<int64_t> dims) {
  for (const GgufTensorInfo &existing : tensors_)
    if (existing.name == name)
      return makeError("tensor '", name, "' is added twice");
  if (dims.size() > GgufFile::kMaxDims)
    return makeError("tensor '", name, "': more than 4 dimensions");
  auto bytes = ggmlTensorBytes(type, dims);
  if (!bytes)
    return makeError("tensor '", name, "': ", bytes.error().message);
  GgufTensorInfo info;
  info.name = std::move(name);
  info.type = type;
  info.dims = std::move(dims);
  info.byteSize = *bytes;
  info.elementCount = info.byteSize / ggmlTypeInfo(type).bytesPerBlock *
                      ggmlTypeInfo(type).blockSize;
  info.offset = 0; // assigned in write(), once the alignment is final
  tensors_.push_back(std::move(info));
  return Status::success();
}

Status GgufWriter::addTensor(std::string name, GgmlType type,
                             std::vector<int64_t> dims,
                             std::span<const uint8_t> data) {
  std::string label = name;
  KILN_TRY(addTensorInfo(std::move(name), type, std::move(dims)));
  if (data.size() != tensors_.back().byteSize) {
    uint64_t expected = tensors_.back().byteSize;
    tensors_.pop_back();
    return makeError("tensor '", label, "': ", std::to_string(data.size()),
                     " bytes of data given, its shape needs ",
                     std::to_string(expected));
  }
  fillers_.push_back([data](std::span<uint8_t> out) {
    if (!data.empty())
      std::memcpy(out.data(), data.data(), data.size());
    return Status::success();
  });
  return Status::success();
}

Status GgufWriter::addTensor(std::string name, GgmlType type,
                             std::vector<int64_t> dims, Filler filler) {
  KILN_TRY(addTensorInfo(std::move(name), type, std::move(dims)));
  fillers_.push_back(std::move(filler));
  return Status::success();
}

std::vector<uint8_t> GgufWriter::encodeHeader() const {
  uint64_t align = alignment();
  if (align == 0 || (align & (align - 1)) != 0)
    align = 1; // write() refuses such a file; here only the offsets are off
  ByteBuffer header;
  header.put<uint32_t>(GgufFile::kMagic);
  header.put<uint32_t>(version_);
  header.put<uint64_t>(tensors_.size());
  header.put<uint64_t>(metadata_.size());
  for (const auto &[key, value] : metadata_.entries()) {
    header.putString(key);
    header.put<uint32_t>(static_cast<uint32_t>(value.type()));
    header.putValue(value);
  }
  uint64_t offset = 0;
  for (const GgufTensorInfo &tensor : tensors_) {
    header.putString(tensor.name);
    header.put<uint32_t>(static_cast<uint32_t>(tensor.dims.size()));
    for (int64_t dim : tensor.dims)
      header.put<uint64_t>(static_cast<uint64_t>(dim));
    header.put<uint32_t>(static_cast<uint32_t>(tensor.type));
    header.put<uint64_t>(offset);
    offset = alignUp(offset + tensor.byteSize, align);
  }
  return std::move(header.bytes);
}

Status GgufWriter::write(const std::string &path,
                         const Progress &progress) const {
  uint64_t align = alignment();
  if (align == 0 || (align & (align - 1)) != 0)
    return makeError(path, ": general.alignment ", std::to_string(align),
                     " is not a power of two");

  ByteBuffer header;
  header.bytes = encodeHeader();
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const GgufTensorInfo &tensor : tensors_) {
    offsets.push_back(offset);
    offset = alignUp(offset + tensor.byteSize, align);
  }

  auto file = AtomicFile::create(path);
  if (!file)
    return std::move(file).takeError();
  KILN_TRY(file->write(header.bytes.data(), header.bytes.size()));
  uint64_t dataStart = alignUp(header.bytes.size(), align);
  if (!tensors_.empty())
    KILN_TRY(file->writeZeros(dataStart - header.bytes.size()));

  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const GgufTensorInfo &tensor = tensors_[i];
    KILN_TRY(file->writeZeros(dataStart + offsets[i] - file->bytesWritten()));
    buffer.assign(tensor.byteSize, 0);
    Status filled = fillers_[i](buffer);
    if (!filled)
      return makeError(path, ": tensor '", tensor.name,
                       "': ", filled.message());
    KILN_TRY(file->write(buffer.data(), buffer.size()));
    KILN_TRY(file->writeZeros(alignUp(tensor.byteSize, align) -
                              tensor.byteSize));
    if (progress)
      progress(i + 1, tensors_.size());
  }
  return file->commit();
}

} // namespace kiln
