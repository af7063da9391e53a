// `kiln info MODEL [--json]`: what a GGUF file holds.
#include "ArtifactInfo.h"
#include "Command.h"

#include "gguf/GgufFile.h"
#include "runtime/artifact/Artifact.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

namespace kiln::cli {

namespace {

constexpr size_t kArrayItemsShown = 8;

struct InfoOptions {
  std::string model;
  bool json = false;
  bool verify = false;
};

std::string humanBytes(uint64_t bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit ? "%.2f %s" : "%.0f %s", value,
                units[unit]);
  return buf;
}

struct Totals {
  uint64_t elements = 0;
  uint64_t bytes = 0;
  std::map<std::string, size_t> tensorsByType;
  double bitsPerWeight() const {
    return elements ? 8.0 * static_cast<double>(bytes) / elements : 0.0;
  }
};

Totals computeTotals(const GgufFile &file) {
  Totals totals;
  for (const GgufTensorInfo &tensor : file.tensors()) {
    totals.elements += tensor.elementCount;
    totals.bytes += tensor.byteSize;
    ++totals.tensorsByType[std::string(ggmlTypeInfo(tensor.type).name)];
  }
  return totals;
}

std::string architectureOf(const GgufFile &file) {
  auto arch = file.metadata().getString("general.architecture");
  return arch ? std::string(*arch) : std::string();
}

bool isHyperparameter(const std::string &key, const std::string &arch) {
  return !arch.empty() && key.size() > arch.size() + 1 &&
         key.compare(0, arch.size() + 1, arch + ".") == 0;
}

// The tokenizer summary: model family, sizes and special ids.
struct TokenizerSummary {
  std::string model, pre;
  size_t tokens = 0, merges = 0;
  std::vector<std::pair<std::string, std::string>> fields; // name -> value
};

TokenizerSummary summarizeTokenizer(const GgufMetadata &metadata) {
  TokenizerSummary summary;
  if (auto model = metadata.getString("tokenizer.ggml.model"))
    summary.model = *model;
  if (auto pre = metadata.getString("tokenizer.ggml.pre"))
    summary.pre = *pre;
  if (auto tokens = metadata.getArray("tokenizer.ggml.tokens"))
    summary.tokens = (*tokens)->size();
  if (auto merges = metadata.getArray("tokenizer.ggml.merges"))
    summary.merges = (*merges)->size();
  for (const char *name : {"bos_token_id", "eos_token_id", "unknown_token_id",
                           "padding_token_id", "seperator_token_id",
                           "add_bos_token", "add_eos_token",
                           "add_space_prefix"}) {
    std::string key = std::string("tokenizer.ggml.") + name;
    if (const GgufValue *value = metadata.find(key))
      summary.fields.emplace_back(name, formatGgufValue(*value));
  }
  return summary;
}

nlohmann::json arrayToJson(const GgufArray &array, size_t maxItems);

// Strings need not be valid UTF-8; the final dump replaces bad bytes.
nlohmann::json valueToJson(const GgufValue &value, size_t maxItems) {
  return std::visit(
      [&](const auto &v) -> nlohmann::json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, GgufArray>)
          return arrayToJson(v, maxItems);
        else
          return nlohmann::json(v);
      },
      value.storage());
}

// Arrays keep their first items; the type and full length are always given.
nlohmann::json arrayToJson(const GgufArray &array, size_t maxItems) {
  nlohmann::json out;
  out["type"] = "array";
  out["element_type"] = std::string(ggufValueTypeName(array.elementType()));
  out["length"] = array.size();
  nlohmann::json head = nlohmann::json::array();
  std::visit(
      [&](const auto &items) {
        using E = typename std::decay_t<decltype(items)>::value_type;
        for (size_t i = 0; i < items.size() && i < maxItems; ++i) {
          if constexpr (std::is_same_v<E, GgufArray>)
            head.push_back(arrayToJson(items[i], maxItems));
          else
            head.push_back(valueToJson(GgufValue(static_cast<E>(items[i])),
                                       maxItems));
        }
      },
      array.items);
  out["head"] = std::move(head);
  return out;
}

int printJson(const GgufFile &file) {
  nlohmann::json out;
  std::string arch = architectureOf(file);
  out["file"] = file.source();
  out["file_size"] = file.fileSize();
  out["gguf_version"] = file.version();
  out["alignment"] = file.alignment();
  out["architecture"] = arch;

  nlohmann::json hyper = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto &[key, value] : file.metadata().entries()) {
    metadata[key] = valueToJson(value, kArrayItemsShown);
    if (isHyperparameter(key, arch))
      hyper[key.substr(arch.size() + 1)] = valueToJson(value, kArrayItemsShown);
  }
  out["hyperparameters"] = std::move(hyper);

  TokenizerSummary tokenizer = summarizeTokenizer(file.metadata());
  nlohmann::json tok = {{"model", tokenizer.model},
                        {"pre", tokenizer.pre},
                        {"tokens", tokenizer.tokens},
                        {"merges", tokenizer.merges}};
  for (const auto &[name, value] : tokenizer.fields)
    tok[name] = valueToJson(*file.metadata().find("tokenizer.ggml." + name),
                            kArrayItemsShown);
  out["tokenizer"] = std::move(tok);
  out["metadata"] = std::move(metadata);

  nlohmann::json tensors = nlohmann::json::array();
  for (const GgufTensorInfo &tensor : file.tensors())
    tensors.push_back({{"name", tensor.name},
                       {"type", std::string(ggmlTypeInfo(tensor.type).name)},
                       {"shape", tensor.dims},
                       {"elements", tensor.elementCount},
                       {"bytes", tensor.byteSize},
                       {"offset", file.dataOffset() + tensor.offset}});
  out["tensors"] = std::move(tensors);

  Totals totals = computeTotals(file);
  out["totals"] = {{"tensors", file.tensors().size()},
                   {"elements", totals.elements},
                   {"bytes", totals.bytes},
                   {"bits_per_weight", totals.bitsPerWeight()},
                   {"tensors_by_type", totals.tensorsByType}};
  std::cout << out.dump(2, ' ', false,
                        nlohmann::json::error_handler_t::replace)
            << "\n";
  return 0;
}

int printText(const GgufFile &file) {
  std::string arch = architectureOf(file);
  const GgufMetadata &metadata = file.metadata();
  std::printf("file:          %s\n", file.source().c_str());
  std::printf("format:        GGUF v%u, %s, alignment %u, data at byte %llu\n",
              file.version(), humanBytes(file.fileSize()).c_str(),
              file.alignment(),
              static_cast<unsigned long long>(file.dataOffset()));
  std::printf("architecture:  %s\n", arch.empty() ? "(none)" : arch.c_str());
  if (auto name = metadata.getString("general.name"))
    std::printf("name:          %s\n", std::string(*name).c_str());

  std::printf("\nhyperparameters:\n");
  for (const auto &[key, value] : metadata.entries())
    if (isHyperparameter(key, arch))
      std::printf("  %-40s %s\n", key.substr(arch.size() + 1).c_str(),
                  formatGgufValue(value, kArrayItemsShown).c_str());

  TokenizerSummary tokenizer = summarizeTokenizer(metadata);
  std::printf("\ntokenizer:     %s", tokenizer.model.empty()
                                         ? "(none)"
                                         : tokenizer.model.c_str());
  if (!tokenizer.pre.empty())
    std::printf(" (pre-tokenizer %s)", tokenizer.pre.c_str());
  std::printf(", %zu tokens, %zu merges\n", tokenizer.tokens,
              tokenizer.merges);
  for (const auto &[name, value] : tokenizer.fields)
    std::printf("  %-40s %s\n", name.c_str(), value.c_str());

  std::printf("\nmetadata (%zu keys):\n", metadata.size());
  for (const auto &[key, value] : metadata.entries())
    std::printf("  %-40s %-8s %s\n", key.c_str(),
                std::string(ggufValueTypeName(value.type())).c_str(),
                formatGgufValue(value, kArrayItemsShown).c_str());

  std::printf("\ntensors (%zu):\n", file.tensors().size());
  std::printf("  %-36s %-8s %-22s %12s\n", "name", "type", "shape", "bytes");
  for (const GgufTensorInfo &tensor : file.tensors())
    std::printf("  %-36s %-8s %-22s %12llu\n", tensor.name.c_str(),
                std::string(ggmlTypeInfo(tensor.type).name).c_str(),
                tensor.shapeString().c_str(),
                static_cast<unsigned long long>(tensor.byteSize));

  Totals totals = computeTotals(file);
  std::printf("\ntotal:         %llu parameters, %s of tensor data, %.2f bits "
              "per weight\n",
              static_cast<unsigned long long>(totals.elements),
              humanBytes(totals.bytes).c_str(), totals.bitsPerWeight());
  std::printf("by type:      ");
  for (const auto &[type, count] : totals.tensorsByType)
    std::printf(" %s %zu", type.c_str(), count);
  std::printf("\n");
  return 0;
}

} // namespace

Command addInfoCommand(CLI::App &parent) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App *app = parent.add_subcommand(
      "info", "Describe a GGUF file (architecture, hyperparameters, "
              "tokenizer, metadata and tensors) or an AOT artifact (FILE.kiln)");
  app->add_option("model", options->model, "GGUF file or AOT artifact")->required();
  app->add_flag("--json", options->json, "Print one JSON object");
  app->add_flag("--verify", options->verify,
                "An artifact: check every section's SHA-256, the stored weights' too "
                "(which loading does not, to start at once)");
  return {app, [options]() {
            if (runtime::artifact::looksLikeArtifact(options->model))
              return describeArtifact(options->model, options->verify, options->json);
            if (options->verify)
              return reportError("--verify: " + options->model + " is not a kiln artifact");
            auto file = GgufFile::open(options->model);
            if (!file)
              return reportError(file.error().message);
            return options->json ? printJson(*file) : printText(*file);
          }};
}

} // namespace kiln::cli
