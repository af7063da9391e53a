#include "Converter.h"

#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"

#include "Architecture.h"
#include "Checkpoint.h"
#include "JsonFile.h"
#include "TensorPlan.h"
#include "Vocab.h"
#include "gguf/GgufFile.h"
#include "gguf/GgufWriter.h"
#include "model/ModelSpec.h"
#include "support/SameFile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace kiln::convert {

namespace fs = std::filesystem;

std::string sizeLabel(uint64_t parameters) {
  double count = static_cast<double>(parameters);
  double scaled;
  const char *suffix;
  if (count > 1e12) {
    scaled = count * 1e-12;
    suffix = "T";
  } else if (count > 1e9) {
    scaled = count * 1e-9;
    suffix = "B";
  } else if (count > 1e6) {
    scaled = count * 1e-6;
    suffix = "M";
  } else {
    scaled = count * 1e-3;
    suffix = "K";
  }
  // Digits of the rounded value (ties to even), leading zeros dropped.
  std::string digits = std::to_string(static_cast<long long>(std::nearbyint(scaled)));
  digits.erase(0, digits.find_first_not_of('0') == std::string::npos
                      ? digits.size()
                      : digits.find_first_not_of('0'));
  int decimals = std::max(2 - static_cast<int>(digits.size()), 0);
  char text[64];
  std::snprintf(text, sizeof text, "%.*f%s", decimals, scaled, suffix);
  return text;
}

namespace {

Result<std::string> architectureName(const JsonFile &config,
                                     const std::string &override) {
  if (!override.empty())
    return override;
  auto list = config.json().find("architectures");
  if (list == config.json().end() || !list->is_array() || list->empty() ||
      !(*list)[0].is_string())
    return config.fieldError("architectures",
                             "is missing or empty (name one with --arch-override)");
  return (*list)[0].get<std::string>();
}

std::string supportedNames() {
  std::string names;
  for (const Architecture &arch : architectures())
    names += (names.empty() ? "" : ", ") + std::string(arch.hfName);
  return names;
}

Status addVocab(const Architecture &arch, const VocabInputs &inputs,
                const std::string &vocabPre, GgufMetadata &out) {
  if (arch.vocab == VocabKind::SentencePieceFirst && hasSentencePieceVocab(inputs))
    return addSentencePieceVocab(inputs, out);
  if (hasBpeVocab(inputs))
    return addBpeVocab(inputs, vocabPre, out);
  return makeError(inputs.dir,
                   ": no tokenizer found (tokenizer.model, tokenizer.json, "
                   "or vocab.json with merges.txt)");
}

// The folder's files besides the weights that the converter reads (config,
// tokenizers and their side files), and the two a Hugging Face folder keeps
// beside them for other readers. A reader of a new file adds it here.
constexpr const char *kMetadataFiles[] = {
    "config.json",        "tokenizer.json",          "tokenizer_config.json",
    "tokenizer.model",    "special_tokens_map.json", "generation_config.json",
    "added_tokens.json",  "vocab.json",              "merges.txt",
};

// Weights in any of the formats loadCheckpoint() knows, read this time or
// not: a folder with both model.safetensors and pytorch_model.bin keeps
// both, and -o must not replace the one left unread either.
bool isWeightFile(const std::string &name) {
  return name.ends_with(".safetensors") || name.ends_with(".pth") ||
         name.ends_with(".index.json") ||
         (name.starts_with("pytorch_model") && name.ends_with(".bin"));
}

} // namespace

std::vector<std::string> inputFiles(const std::string &modelDir,
                                    const Checkpoint &checkpoint) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(modelDir, ec)) {
    std::string name = entry.path().filename().string();
    bool metadata = std::find(std::begin(kMetadataFiles), std::end(kMetadataFiles),
                              name) != std::end(kMetadataFiles);
    if (metadata || isWeightFile(name))
      files.push_back(entry.path().string());
  }
  // Shards an index names may be called anything.
  files.insert(files.end(), checkpoint.files().begin(), checkpoint.files().end());
  return files;
}

Result<ConvertSummary> convertModel(const ConvertOptions &options) {
  const OutType *outType = findOutType(options.outType);
  if (!outType)
    return makeError("--outtype ", options.outType,
                     ": not one of f32, f16, bf16, q8_0");
  auto config = JsonFile::read((fs::path(options.modelDir) / "config.json").string());
  if (!config)
    return std::move(config).takeError();
  auto archName = architectureName(*config, options.archOverride);
  if (!archName)
    return std::move(archName).takeError();
  const Architecture *arch = findArchitecture(*archName);
  if (!arch)
    return makeError(config->path(), ": architecture '", *archName,
                     "' is not supported (supported: ", supportedNames(), ")");

  auto checkpoint = loadCheckpoint(options.modelDir);
  if (!checkpoint)
    return std::move(checkpoint).takeError();
  KILN_TRY(checkNotAnyInput(options.output, inputFiles(options.modelDir, *checkpoint)));
  auto plan = arch->planTensors(*config, *checkpoint);
  if (!plan)
    return std::move(plan).takeError();

  ConvertSummary summary;
  summary.architecture = *archName;
  summary.tensors = plan->size();
  summary.inputBytes = checkpoint->totalBytes();
  for (PlannedTensor &tensor : *plan) {
    tensor.type = chooseTensorType(tensor.name, tensor.shape, outType->type);
    summary.parameters += tensor.source->elementCount();
  }

  GgufWriter writer;
  GgufMetadata &metadata = writer.metadata();
  std::string name = options.name;
  if (name.empty())
    name = fs::path(options.modelDir).lexically_normal().filename().string();
  if (name.empty()) // "dir/" normalizes to a trailing empty component
    name = fs::path(options.modelDir).lexically_normal().parent_path().filename().string();
  metadata.set("general.architecture", GgufValue(std::string(arch->ggufName)));
  metadata.set("general.type", GgufValue("model"));
  metadata.set("general.name", GgufValue(name));
  if (summary.parameters > 0)
    metadata.set("general.size_label", GgufValue(sizeLabel(summary.parameters)));
  KILN_TRY(arch->addParameters(*config, outType->fileType, metadata));
  VocabInputs vocabInputs{options.modelDir, &*config};
  KILN_TRY(addVocab(*arch, vocabInputs, options.vocabPre, metadata));
  if (arch->ggufName == "llama") {
    // LlamaModel.set_vocab: add_prefix_space from tokenizer_config.json.
    auto tc = JsonFile::readIfExists(
        (fs::path(options.modelDir) / "tokenizer_config.json").string());
    if (!tc)
      return std::move(tc).takeError();
    auto prefix = tc->json().find("add_prefix_space");
    if (prefix != tc->json().end() && prefix->is_boolean())
      metadata.set("tokenizer.ggml.add_space_prefix", GgufValue(prefix->get<bool>()));
  }
  metadata.set("general.quantization_version", GgufValue(uint32_t{2}));

  auto scratch = std::make_shared<std::vector<float>>();
  for (const PlannedTensor &tensor : *plan) {
    const PlannedTensor *planned = &tensor;
    KILN_TRY(writer.addTensor(tensor.name, tensor.type, tensor.ggufDims(),
                              [planned, scratch](std::span<uint8_t> out) {
                                return fillTensor(*planned, out, *scratch);
                              }));
  }
  for (const GgufTensorInfo &info : writer.tensors())
    summary.outputBytes += info.byteSize;

  uint64_t bytesDone = 0;
  const auto &infos = writer.tensors();
  Status written = writer.write(options.output, [&](size_t done, size_t total) {
    bytesDone += infos[done - 1].byteSize;
    if (options.progress)
      options.progress(done, total, bytesDone, summary.outputBytes);
  });
  if (!written)
    return std::move(written).takeError();
  // The file is what llama.cpp writes whatever kiln runs; whether kiln can
  // run it is told now, by the loader itself, not at the first `kiln run`.
  auto file = GgufFile::open(options.output);
  if (!file)
    return std::move(file).takeError();
  if (auto spec = ModelSpec::fromGguf(*file); !spec)
    summary.notRunnable = spec.error().message;
  return summary;
}

} // namespace kiln::convert
