#include "TorchReader.h"

#include "SafeUnpickler.h"
#include "ZipReader.h"

#include <cstring>
#include <limits>

namespace kiln::convert {

namespace {

// A tensor's bytes: a view of its storage when it is laid out row-major
// from its offset, else a contiguous copy gathered element by element.
Result<std::span<const uint8_t>>
tensorBytes(const PyTensor &tensor, std::span<const uint8_t> storage,
            const std::string &where, Checkpoint &checkpoint) {
  const size_t elementSize = dtypeSize(tensor.storage->dtype);
  // Bounds that keep the index arithmetic below from overflowing.
  if (tensor.shape.size() > 8)
    return makeError(where, ": ", std::to_string(tensor.shape.size()),
                     " dimensions (at most 8)");
  if (tensor.offset > (uint64_t(1) << 56))
    return makeError(where, ": storage offset ", std::to_string(tensor.offset),
                     " is out of range");
  uint64_t count = 1, lastIndex = tensor.offset;
  bool contiguous = true;
  uint64_t expectedStride = 1;
  for (size_t d = tensor.shape.size(); d-- > 0;) {
    uint64_t size = static_cast<uint64_t>(tensor.shape[d]);
    uint64_t stride = static_cast<uint64_t>(tensor.stride[d]);
    if (size != 0 && count > (uint64_t(1) << 48) / size)
      return makeError(where, ": shape overflows");
    count *= size;
    if (size > 1 && stride != expectedStride)
      contiguous = false;
    expectedStride *= size;
    if (size > 0) {
      if (stride > (uint64_t(1) << 50) || (stride != 0 && size - 1 > (uint64_t(1) << 50) / stride))
        return makeError(where, ": stride ", std::to_string(stride),
                         " reaches past any storage");
      lastIndex += (size - 1) * stride;
    }
  }
  if (count == 0)
    return std::span<const uint8_t>();
  if (lastIndex >= tensor.storage->numel)
    return makeError(where, ": reaches element ", std::to_string(lastIndex),
                     " of a storage of ", std::to_string(tensor.storage->numel));
  if (contiguous)
    return storage.subspan(tensor.offset * elementSize, count * elementSize);

  auto copy = std::make_shared<std::vector<uint8_t>>(count * elementSize);
  std::vector<uint64_t> index(tensor.shape.size(), 0);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t source = tensor.offset;
    for (size_t d = 0; d < index.size(); ++d)
      source += index[d] * static_cast<uint64_t>(tensor.stride[d]);
    std::memcpy(copy->data() + i * elementSize,
                storage.data() + source * elementSize, elementSize);
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < static_cast<uint64_t>(tensor.shape[d]))
        break;
      index[d] = 0;
    }
  }
  checkpoint.keepAlive(copy);
  return std::span<const uint8_t>(*copy);
}

} // namespace

Status parseTorchArchive(std::span<const uint8_t> bytes,
                         const std::string &source, Checkpoint &checkpoint) {
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5)
    return makeError(source,
                     ": a legacy (pre-1.6, not zip) torch.save file; re-save "
                     "it with a recent PyTorch or as safetensors");
  auto archive = ZipArchive::parse(bytes, source);
  if (!archive)
    return std::move(archive).takeError();
  // Entries live under one top folder, e.g. "archive/data.pkl".
  const ZipEntry *pickleEntry = nullptr;
  for (const ZipEntry &entry : archive->entries())
    if (entry.name == "data.pkl" ||
        (entry.name.size() > 9 &&
         entry.name.compare(entry.name.size() - 9, 9, "/data.pkl") == 0 &&
         entry.name.find('/') == entry.name.size() - 9)) {
      pickleEntry = &entry;
      break;
    }
  if (!pickleEntry)
    return makeError(source, ": no data.pkl in the archive (not a torch.save "
                             "checkpoint)");
  std::string prefix = pickleEntry->name.substr(0, pickleEntry->name.size() - 8);
  if (const ZipEntry *order = archive->find(prefix + "byteorder")) {
    auto text = archive->contents(*order);
    if (!text)
      return std::move(text).takeError();
    if (std::string_view(reinterpret_cast<const char *>(text->data()),
                         text->size()) != "little")
      return makeError(source, ": byteorder is not 'little'");
  }
  auto pickle = archive->contents(*pickleEntry);
  if (!pickle)
    return std::move(pickle).takeError();
  auto root = unpickle(*pickle, source + ":" + pickleEntry->name);
  if (!root)
    return std::move(root).takeError();

  // Some checkpoints wrap the state dict: {"state_dict": {...}} or
  // {"model": {...}}.
  const PyDict *dict = std::get_if<PyDict>(&(*root)->value);
  if (!dict)
    return makeError(source, ": data.pkl does not hold a dict of tensors");
  for (const char *wrapper : {"state_dict", "model"})
    for (const auto &[key, value] : dict->items) {
      auto *name = std::get_if<std::string>(&key->value);
      auto *inner = std::get_if<PyDict>(&value->value);
      if (name && *name == wrapper && inner && dict->items.size() <= 4) {
        dict = inner;
        break;
      }
    }

  for (const auto &[key, value] : dict->items) {
    auto *name = std::get_if<std::string>(&key->value);
    if (!name)
      return makeError(source, ": the state dict has a key that is not a string");
    auto *tensor = std::get_if<PyTensor>(&value->value);
    if (!tensor)
      continue; // e.g. an epoch counter beside the weights
    std::string where = source + ": tensor '" + *name + "'";
    const ZipEntry *entry = archive->find(prefix + "data/" + tensor->storage->key);
    if (!entry)
      return makeError(where, ": storage '", tensor->storage->key,
                       "' is missing from the archive");
    auto storage = archive->contents(*entry);
    if (!storage)
      return std::move(storage).takeError();
    const size_t elementSize = dtypeSize(tensor->storage->dtype);
    if (tensor->storage->numel > storage->size() / elementSize)
      return makeError(where, ": storage '", tensor->storage->key, "' holds ",
                       std::to_string(storage->size()), " bytes, less than ",
                       std::to_string(tensor->storage->numel), " elements of ",
                       dtypeName(tensor->storage->dtype));
    auto data = tensorBytes(*tensor, *storage, where, checkpoint);
    if (!data)
      return std::move(data).takeError();
    SourceTensor out;
    out.name = *name;
    out.dtype = tensor->storage->dtype;
    out.shape = tensor->shape;
    out.data = *data;
    out.file = source;
    KILN_TRY(checkpoint.add(std::move(out)));
  }
  return {};
}

Status readTorchFile(const std::string &path, Checkpoint &checkpoint) {
  auto file = MappedFile::open(path);
  if (!file)
    return std::move(file).takeError();
  KILN_TRY(parseTorchArchive((*file)->bytes(), path, checkpoint));
  checkpoint.keepAlive(*file);
  return {};
}

} // namespace kiln::convert
