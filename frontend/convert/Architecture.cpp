#include "Architecture.h"

#include <algorithm>
#include <unordered_set>

namespace kiln::convert {

// Defined in LlamaArch.cpp and Gpt2Arch.cpp.
extern const Architecture kLlamaArchitecture;
extern const Architecture kMistralArchitecture;
extern const Architecture kQwen2Architecture;
extern const Architecture kGpt2Architecture;

std::span<const Architecture> architectures() {
  static const Architecture all[] = {kLlamaArchitecture, kMistralArchitecture,
                                     kQwen2Architecture, kGpt2Architecture};
  return all;
}

const Architecture *findArchitecture(std::string_view hfName) {
  for (const Architecture &arch : architectures())
    if (arch.hfName == hfName)
      return &arch;
  return nullptr;
}

namespace detail {

std::string shapeText(std::span<const int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

Status putHparam(const JsonFile &config, std::string_view field,
                 std::string_view arch, Hparam h, double value, GgufMetadata &out) {
  if (auto problem = hparamProblem(h, value))
    return config.fieldError(field, *problem + " (kiln would refuse " +
                                        std::string(arch) + "." +
                                        std::string(hparamKey(h)) + ")");
  std::string key = std::string(arch) + "." + std::string(hparamKey(h));
  if (hparamIsCount(h))
    out.set(std::move(key), GgufValue(static_cast<uint32_t>(value)));
  else
    out.set(std::move(key), GgufValue(static_cast<float>(value)));
  return {};
}

Status putHparamFrom(const JsonFile &config,
                     std::initializer_list<std::string_view> fields,
                     std::string_view arch, Hparam h, GgufMetadata &out) {
  for (std::string_view field : fields) {
    std::optional<double> value;
    if (hparamIsCount(h)) {
      auto count = config.optUInt(field);
      if (!count)
        return count.error();
      if (*count)
        value = static_cast<double>(**count);
    } else {
      auto real = config.optFloat(field);
      if (!real)
        return real.error();
      value = *real;
    }
    if (value)
      return putHparam(config, field, arch, h, *value, out);
  }
  if (!hparamRequired(h))
    return {};
  std::string names;
  for (std::string_view field : fields)
    names += (names.empty() ? "" : "' or '") + std::string(field);
  return config.fieldError(names, "is missing (kiln needs " + std::string(arch) +
                                      "." + std::string(hparamKey(h)) + ")");
}

Status Planner::take(const std::string &hfName, const std::string &ggufName,
                     std::vector<int64_t> expected, bool required,
                     Rearrange rearrange, uint32_t ropeHeads) {
  const SourceTensor *source = checkpoint_.find(hfName);
  if (!source) {
    if (required)
      return makeError(config_.path(), ": tensor '", hfName,
                       "' is missing from the checkpoint");
    return {};
  }
  if (source->shape != expected)
    return makeError(source->file, ": tensor '", hfName, "' has shape ",
                     shapeText(source->shape), ", expected ",
                     shapeText(expected), " from ", config_.path());
  switch (source->dtype) {
  case DType::F32: case DType::F16: case DType::BF16: case DType::F64:
    break;
  default:
    return makeError(source->file, ": tensor '", hfName, "' has dtype ",
                     dtypeName(source->dtype), ", not a float type");
  }
  PlannedTensor tensor;
  tensor.name = ggufName;
  tensor.source = source;
  tensor.rearrange = rearrange;
  tensor.ropeHeads = ropeHeads;
  tensor.shape = expected;
  if (rearrange == Rearrange::Transpose)
    std::reverse(tensor.shape.begin(), tensor.shape.end());
  planned_.push_back(std::move(tensor));
  used_.push_back(hfName);
  return {};
}

Status Planner::duplicate(const std::string &ggufFrom, const std::string &ggufTo) {
  for (const PlannedTensor &tensor : planned_)
    if (tensor.name == ggufFrom) {
      PlannedTensor copy = tensor;
      copy.name = ggufTo;
      planned_.push_back(std::move(copy));
      return {};
    }
  return makeError(config_.path(), ": no tensor '", ggufFrom, "' to copy");
}

Result<std::vector<PlannedTensor>>
Planner::finish(std::string_view arch,
                std::initializer_list<std::string_view> ignorable) {
  std::unordered_set<std::string> used(used_.begin(), used_.end());
  for (const SourceTensor &tensor : checkpoint_.tensors()) {
    if (used.count(tensor.name))
      continue;
    bool ignore = std::any_of(ignorable.begin(), ignorable.end(),
                              [&](std::string_view suffix) {
                                return tensor.name.size() >= suffix.size() &&
                                       tensor.name.compare(tensor.name.size() - suffix.size(),
                                                           suffix.size(), suffix) == 0;
                              });
    if (!ignore)
      return makeError(tensor.file, ": tensor '", tensor.name,
                       "' has no GGUF name in architecture ", std::string(arch),
                       " (cannot be mapped)");
  }
  return std::move(planned_);
}

} // namespace detail

} // namespace kiln::convert
