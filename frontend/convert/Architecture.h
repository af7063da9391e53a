// The Hugging Face architectures kiln converts: for each, the GGUF
// architecture metadata it writes from config.json and the plan that maps
// checkpoint tensors to GGUF tensors (names, rearrangements, shape checks).
#pragma once

#include "Checkpoint.h"
#include "JsonFile.h"
#include "TensorPlan.h"
#include "gguf/GgufMetadata.h"
#include "model/Hyperparameters.h"

#include <span>
#include <string_view>
#include <vector>

namespace kiln::convert {

enum class VocabKind {
  SentencePieceFirst, // tokenizer.model if present, else BPE
  Bpe,
};

struct Architecture {
  std::string_view hfName;   // config.json "architectures"[0]
  std::string_view ggufName; // general.architecture
  // The <arch>.* keys (and general.file_type where llama.cpp puts it).
  Status (*addParameters)(const JsonFile &config, uint32_t fileType,
                          GgufMetadata &out);
  // GGUF tensors in file order; every checkpoint tensor must be used or
  // known to be unneeded.
  Result<std::vector<PlannedTensor>> (*planTensors)(const JsonFile &config,
                                                    const Checkpoint &checkpoint);
  VocabKind vocab;
};

std::span<const Architecture> architectures();
const Architecture *findArchitecture(std::string_view hfName);

// Helpers shared by the architecture files.
namespace detail {

// Collects planned tensors from a checkpoint, checking shapes and keeping
// track of which checkpoint tensors were used.
class Planner {
public:
  Planner(const JsonFile &config, const Checkpoint &checkpoint)
      : config_(config), checkpoint_(checkpoint) {}

  // Plans `hfName` as `ggufName` if present; a missing tensor is an error
  // when `required`. The checkpoint shape must equal `expected` (PyTorch
  // order) before any rearrangement.
  Status take(const std::string &hfName, const std::string &ggufName,
              std::vector<int64_t> expected, bool required,
              Rearrange rearrange = Rearrange::None, uint32_t ropeHeads = 0);
  bool has(const std::string &hfName) const {
    return checkpoint_.find(hfName) != nullptr;
  }
  // Adds a second GGUF tensor with the data of an already planned one.
  Status duplicate(const std::string &ggufFrom, const std::string &ggufTo);
  // Fails on any checkpoint tensor neither used nor ending in one of
  // `ignorable`.
  Result<std::vector<PlannedTensor>>
  finish(std::string_view arch, std::initializer_list<std::string_view> ignorable);

private:
  const JsonFile &config_;
  const Checkpoint &checkpoint_;
  std::vector<PlannedTensor> planned_;
  std::vector<std::string> used_;
};

std::string shapeText(std::span<const int64_t> shape);

// Writes `<arch>.<hparamKey(h)>` (uint32 or float32) as `value`, taken
// from config.json's `field`; a value the loader would refuse is an error
// naming the field.
Status putHparam(const JsonFile &config, std::string_view field,
                 std::string_view arch, Hparam h, double value, GgufMetadata &out);
// The same from the first of `fields` present in config.json; none present
// is an error when the loader needs the key, and writes nothing otherwise.
Status putHparamFrom(const JsonFile &config,
                     std::initializer_list<std::string_view> fields,
                     std::string_view arch, Hparam h, GgufMetadata &out);

} // namespace detail

} // namespace kiln::convert
