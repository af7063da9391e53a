#include "Checkpoint.h"

#include "JsonFile.h"
#include "SafetensorsReader.h"
#include "TorchReader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace kiln::convert {

namespace fs = std::filesystem;

std::string_view dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::F64: return "F64";
  case DType::I64: return "I64";
  case DType::I32: return "I32";
  case DType::I16: return "I16";
  case DType::I8: return "I8";
  case DType::U8: return "U8";
  case DType::Bool: return "BOOL";
  }
  return "?";
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F64: case DType::I64: return 8;
  case DType::F32: case DType::I32: return 4;
  case DType::F16: case DType::BF16: case DType::I16: return 2;
  case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 1;
}

uint64_t SourceTensor::elementCount() const {
  uint64_t count = 1;
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

Status Checkpoint::add(SourceTensor tensor) {
  if (index_.count(tensor.name))
    return makeError(tensor.file, ": tensor '", tensor.name,
                     "' appears twice in the checkpoint");
  index_.emplace(tensor.name, tensors_.size());
  tensors_.push_back(std::move(tensor));
  return {};
}

const SourceTensor *Checkpoint::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t Checkpoint::totalBytes() const {
  uint64_t total = 0;
  for (const SourceTensor &tensor : tensors_)
    total += tensor.data.size();
  return total;
}

namespace {

// The shard files an index names, in sorted order, after checking that
// every one of them exists. The weight map's tensor set is checked against
// the shards' contents once they are read.
Result<std::vector<std::string>> readIndex(const fs::path &indexPath,
                                           std::set<std::string> &names) {
  auto file = JsonFile::read(indexPath.string());
  if (!file)
    return std::move(file).takeError();
  const nlohmann::json &index = file->json();
  auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object())
    return makeError(indexPath.string(),
                     ": field 'weight_map' is missing or not an object");
  std::set<std::string> shards;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it.value().is_string())
      return makeError(indexPath.string(), ": weight_map['", it.key(),
                       "'] is not a file name");
    std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
      return makeError(indexPath.string(), ": weight_map['", it.key(),
                       "'] names '", shard, "', not a file of the folder");
    shards.insert(shard);
    names.insert(it.key());
  }
  std::vector<std::string> paths;
  for (const std::string &shard : shards) {
    fs::path path = indexPath.parent_path() / shard;
    if (!fs::is_regular_file(path))
      return makeError(indexPath.string(), ": shard '", shard,
                       "' is missing");
    paths.push_back(path.string());
  }
  return paths;
}

Status checkIndexed(const std::string &indexPath,
                    const std::set<std::string> &indexed,
                    const Checkpoint &checkpoint) {
  for (const std::string &name : indexed)
    if (!checkpoint.find(name))
      return makeError(indexPath, ": tensor '", name,
                       "' is in the weight map but in none of the shards");
  for (const SourceTensor &tensor : checkpoint.tensors())
    if (!indexed.count(tensor.name))
      return makeError(tensor.file, ": tensor '", tensor.name,
                       "' is not in the weight map of ", indexPath);
  return {};
}

using ReadFn = Status (*)(const std::string &, Checkpoint &);

Result<Checkpoint> loadFiles(const std::vector<std::string> &files,
                             ReadFn read) {
  Checkpoint checkpoint;
  for (const std::string &file : files) {
    KILN_TRY(read(file, checkpoint));
    checkpoint.addFile(file);
  }
  return checkpoint;
}

} // namespace

Result<Checkpoint> loadCheckpoint(const std::string &modelDir) {
  fs::path dir(modelDir);
  if (!fs::is_directory(dir))
    return makeError(modelDir, ": not a directory");

  struct Format {
    const char *prefix, *suffix; // of the weight files
    const char *index;
    ReadFn read;
  };
  const Format formats[] = {
      {"model", ".safetensors", "model.safetensors.index.json", readSafetensors},
      {"pytorch_model", ".bin", "pytorch_model.bin.index.json", readTorchFile},
  };
  for (const Format &format : formats) {
    fs::path indexPath = dir / format.index;
    if (fs::is_regular_file(indexPath)) {
      std::set<std::string> names;
      auto shards = readIndex(indexPath, names);
      if (!shards)
        return std::move(shards).takeError();
      auto checkpoint = loadFiles(*shards, format.read);
      if (!checkpoint)
        return checkpoint;
      KILN_TRY(checkIndexed(indexPath.string(), names, *checkpoint));
      checkpoint->addFile(indexPath.string());
      return checkpoint;
    }
    // Without an index, every model*.safetensors (pytorch_model*.bin), in
    // name order, as llama.cpp's converter takes them.
    std::vector<std::string> parts;
    for (const auto &entry : fs::directory_iterator(dir)) {
      std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.starts_with(format.prefix) &&
          name.ends_with(format.suffix))
        parts.push_back(entry.path().string());
    }
    std::sort(parts.begin(), parts.end());
    if (!parts.empty())
      return loadFiles(parts, format.read);
  }
  // Original (Meta-style) checkpoints: consolidated.00.pth, ...
  std::vector<std::string> pth;
  for (const auto &entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".pth")
      pth.push_back(entry.path().string());
  std::sort(pth.begin(), pth.end());
  if (!pth.empty())
    return loadFiles(pth, readTorchFile);
  return makeError(modelDir,
                   ": no weights found (model.safetensors, "
                   "model.safetensors.index.json, pytorch_model.bin, "
                   "pytorch_model.bin.index.json or *.pth)");
}

} // namespace kiln::convert
