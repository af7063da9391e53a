// The tensors of a Hugging Face checkpoint, whatever file format they came
// from (safetensors, PyTorch zip), as named views of their bytes. The bytes
// are read in place from memory mappings the checkpoint keeps alive; only a
// tensor stored as a strided view of its storage is copied, once, into a
// contiguous buffer the checkpoint owns.
#pragma once

#include "support/MappedFile.h"
#include "support/Result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::convert {

// Element types a checkpoint may store; only the float ones are converted.
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

std::string_view dtypeName(DType dtype);
size_t dtypeSize(DType dtype);

struct SourceTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape; // PyTorch order: shape.back() is contiguous
  std::span<const uint8_t> data; // exactly elementCount() * dtypeSize bytes
  std::string file; // where it came from, for error messages

  uint64_t elementCount() const;
};

class Checkpoint {
public:
  // Adds a tensor; a second tensor of the same name is an error.
  Status add(SourceTensor tensor);
  // Keeps a mapping (or an owned copy) alive as long as the checkpoint.
  void keepAlive(std::shared_ptr<const void> owner) {
    owners_.push_back(std::move(owner));
  }

  // Records a file the checkpoint was read from (weights or their index).
  void addFile(std::string path) { files_.push_back(std::move(path)); }

  const SourceTensor *find(std::string_view name) const;
  const std::vector<SourceTensor> &tensors() const { return tensors_; }
  // Every file read, so that an output can be checked against them.
  const std::vector<std::string> &files() const { return files_; }
  uint64_t totalBytes() const;

private:
  std::vector<SourceTensor> tensors_;
  std::vector<std::string> files_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::shared_ptr<const void>> owners_;
};

// Reads every tensor of a model folder: the shards named by
// model.safetensors.index.json, or else every model*.safetensors; otherwise
// the same for pytorch_model.bin; otherwise every *.pth. Shards must hold
// exactly the tensors their index names.
Result<Checkpoint> loadCheckpoint(const std::string &modelDir);

} // namespace kiln::convert
