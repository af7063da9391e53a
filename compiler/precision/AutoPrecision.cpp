#include "compiler/precision/AutoPrecision.h"

#include "compiler/precision/Calibration.h"

#include "codegen/Compile.h"
#include "quant/Dequantize.h"
#include "quant/ModelQuantizer.h"
#include "quant/PrecisionChooser.h"
#include "quant/QuantError.h"
#include "quant/QuantRecipe.h"
#include "quant/Quantize.h"
#include "support/AtomicFile.h"
#include "support/SameFile.h"
#include "support/Sha256.h"
#include "support/TextFile.h"

#include <algorithm>
#include <atomic>
#include <span>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace kiln::precision {

namespace {

namespace fs = std::filesystem;

// Bumped when the cost model or the chooser changes what a mix would be.
constexpr const char *kMixVersion = "kiln-precision-3";

std::string typeName(GgmlType type) { return std::string(ggmlTypeInfo(type).name); }

// Matrices the chooser may requantize: those llama-quantize converts
// (no norms, biases or position tables), in a type kiln reads as numbers.
bool choosable(const GgufTensorInfo &tensor) {
  return tensor.dims.size() >= 2 && isQuantizedTensor(tensor.name, tensor.dims) &&
         canDequantize(tensor.type);
}

std::string bundledCalibration() {
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, size_t(n));
    dir = dir.substr(0, dir.rfind('/'));
    std::string candidate = dir + "/../../models/calibration.txt";
    if (fs::exists(candidate))
      return candidate;
  }
#ifdef KILN_SOURCE_DIR
  return std::string(KILN_SOURCE_DIR) + "/models/calibration.txt";
#else
  return "models/calibration.txt";
#endif
}

Result<std::string> readText(const std::string &path) {
  return readTextFile(path, "the calibration text (--calibration)");
}

std::string hexDigest(Sha256 &hash) { return toHex(hash.finish()); }

std::string precisionCacheDir() {
  std::string dir = codegen::cpu::defaultCacheDir();
  if (dir.empty())
    dir = (fs::temp_directory_path() / "kiln").string();
  return dir + "/precision";
}

bool isHexDigest(std::string_view text) {
  return text.size() == 64 &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The SHA-256 of the model file's bytes (its metadata and every tensor's
// data): the mix is keyed on what the model is, not on its name, size and
// modification time, which another file can share. Hashing gigabytes costs
// seconds, so the digest is remembered under the file's identity (device,
// inode, size, modification and change times); writing the file changes
// its change time, which no program can set back, so a rewritten file is
// hashed afresh.
std::string modelContentHash(const GgufFile &model, const std::string &path) {
  struct stat info {};
  std::string memo;
  if (::stat(path.c_str(), &info) == 0) {
    Sha256 identity;
    identity.update(std::string("kiln-content-hash-1:") + std::to_string(info.st_dev) +
                    ":" + std::to_string(info.st_ino) + ":" +
                    std::to_string(info.st_size) + ":" +
                    std::to_string(info.st_mtim.tv_sec) + "." +
                    std::to_string(info.st_mtim.tv_nsec) + ":" +
                    std::to_string(info.st_ctim.tv_sec) + "." +
                    std::to_string(info.st_ctim.tv_nsec));
    memo = precisionCacheDir() + "/hashes/" + hexDigest(identity).substr(0, 32);
    // A memo is 64 hex digits in a regular file; anything else is ignored
    // and rewritten.
    if (auto text = readTextFile(memo, "the content hash memo", 64); text && isHexDigest(*text))
      return *text;
  }
  Sha256 content;
  std::span<const uint8_t> bytes = model.bytes();
  // In 64 MiB pieces: update() takes any size, but the pieces keep each
  // call's page faults bounded.
  for (size_t offset = 0; offset < bytes.size(); offset += size_t(64) << 20) {
    size_t n = std::min(bytes.size() - offset, size_t(64) << 20);
    content.update(bytes.data() + offset, n);
  }
  std::string digest = hexDigest(content);
  if (!memo.empty()) {
    // A memo that cannot be written only costs the hash next time.
    std::error_code ec;
    fs::create_directories(fs::path(memo).parent_path(), ec);
    if (auto file = AtomicFile::create(memo))
      if (file->write(digest.data(), digest.size()))
        (void)file->commit();
  }
  return digest;
}

// The cache file of this model (by content), budget, candidate types and
// calibration text.
std::string cachePath(const GgufFile &model, const std::string &modelPath,
                      const PrecisionRequest &request, const std::string &calibration) {
  std::string candidates;
  for (GgmlType type : request.candidateTypes)
    candidates += typeName(type) + ",";
  Sha256 hash;
  for (const std::string &part :
       {std::string(kMixVersion), modelContentHash(model, modelPath), candidates,
        std::to_string(request.budgetBitsPerWeight), std::to_string(request.budgetBytes),
        std::string(request.measureKl ? "kl" : "mse"), calibration}) {
    hash.update(part);
    hash.update(std::string_view("\0", 1));
  }
  return precisionCacheDir() + "/" + hexDigest(hash).substr(0, 32) + ".gguf";
}

struct TensorCosts {
  size_t index; // in the model's tensor table
  TensorOptions options;
};

// The types a tensor may take besides its own: those of fewer bits whose
// blocks divide its rows.
std::vector<GgmlType> offeredTypes(const GgufTensorInfo &tensor,
                                   std::span<const GgmlType> candidates) {
  const double sourceBits = bitsPerWeight(ggmlTypeInfo(tensor.type));
  std::vector<GgmlType> types;
  for (GgmlType type : candidates) {
    const GgmlTypeInfo &info = ggmlTypeInfo(type);
    if (type != tensor.type && bitsPerWeight(info) < sourceBits &&
        tensor.dims[0] % info.blockSize == 0 && canQuantize(type))
      types.push_back(type);
  }
  return types;
}

uint64_t bytesAs(GgmlType type, const GgufTensorInfo &tensor) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  return tensor.elementCount / info.blockSize * info.bytesPerBlock;
}

// The budget checked before any calibration: the chooser's own error when
// even the smallest types do not fit.
Status checkBudget(const GgufFile &model, uint64_t budget,
                   std::span<const GgmlType> candidates) {
  std::vector<TensorOptions> sizes;
  for (const GgufTensorInfo &tensor : model.tensors()) {
    if (!choosable(tensor))
      continue;
    TensorOptions options{tensor.name, tensor.elementCount, {{tensor.type, tensor.byteSize, 0}}};
    for (GgmlType type : offeredTypes(tensor, candidates))
      options.options.push_back({type, bytesAs(type, tensor), 0});
    sizes.push_back(std::move(options));
  }
  auto choice = choosePrecision(sizes, budget);
  return choice ? Status::success() : Status(std::move(choice).takeError());
}

// The values of `values` after a round trip through `type`.
Result<std::vector<float>> requantized(GgmlType type, std::span<const float> values) {
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  std::vector<uint8_t> packed(values.size() / info.blockSize * info.bytesPerBlock);
  KILN_TRY(quantize(type, values, packed));
  std::vector<float> out(values.size());
  KILN_TRY(dequantize(type, packed, out));
  return out;
}

// Every choosable tensor's options: its own type at no cost, and each
// candidate type of fewer bits whose blocks divide its rows, costed by requantizing
// it from the file's values (and, with measureKl, scaled to the KL measured
// with this tensor alone requantized to its probe type).
Result<std::vector<TensorCosts>> costTensors(const GgufFile &model, CalibrationRun &run,
                                             bool measureKl,
                                             std::span<const GgmlType> candidates) {
  std::vector<TensorCosts> result;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t index = 0; index < model.tensors().size(); ++index) {
    const GgufTensorInfo &tensor = model.tensors()[index];
    if (!choosable(tensor))
      continue;
    const int64_t rowLength = tensor.dims[0];
    TensorCosts costs{index, {tensor.name, tensor.elementCount, {}}};
    costs.options.options.push_back({tensor.type, tensor.byteSize, 0.0});
    std::vector<GgmlType> types = offeredTypes(tensor, candidates);
    std::vector<float> values(tensor.elementCount);
    KILN_TRY(dequantize(tensor.type, model.tensorData(tensor), values));
    auto found = run.errorWeights().find(tensor.name);
    ErrorWeights none;
    const ErrorWeights &weights = found != run.errorWeights().end() ? found->second : none;

    std::vector<double> costOf(types.size(), 0.0);
    std::vector<std::string> failures(types.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next++) < types.size();) {
        auto cost = quantizationCost(types[i], values, rowLength, weights);
        if (cost)
          costOf[i] = *cost;
        else
          failures[i] = cost.error().message;
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads && t < types.size(); ++t)
      pool.emplace_back(work);
    work();
    for (std::thread &thread : pool)
      thread.join();
    for (size_t i = 0; i < types.size(); ++i) {
      if (!failures[i].empty())
        return makeError(model.source(), ": tensor '", tensor.name, "': ", failures[i]);
      costs.options.options.push_back({types[i], bytesAs(types[i], tensor), costOf[i]});
    }
    if (measureKl && types.size()) {
      // The probe: the offered type nearest 4.5 bits per weight, where the
      // error is large enough to measure and small enough to be linear.
      size_t probe = 0;
      for (size_t i = 1; i < types.size(); ++i)
        if (std::abs(bitsPerWeight(ggmlTypeInfo(types[i])) - 4.5) <
            std::abs(bitsPerWeight(ggmlTypeInfo(types[probe])) - 4.5))
          probe = i;
      auto probeValues = requantized(types[probe], values);
      if (!probeValues)
        return std::move(probeValues).takeError();
      auto kl = run.klWithTensor(tensor.name, *probeValues);
      if (!kl)
        return std::move(kl).takeError();
      double scale = costOf[probe] > 0 ? *kl / costOf[probe] : 0;
      for (size_t i = 1; i < costs.options.options.size(); ++i)
        costs.options.options[i].cost *= scale;
    }
    result.push_back(std::move(costs));
  }
  if (measureKl)
    std::fprintf(stderr, "precision: measured the KL of %zu tensors requantized one at a time\n",
                 result.size());
  if (result.empty())
    return makeError(model.source(), ": no weight matrix to choose a type for");
  return result;
}

std::string bpwText(double bytes, double weights) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", weights ? 8 * bytes / weights : 0.0);
  return text;
}

// The mix as recorded in its metadata, printed on stderr.
Status explainMix(const GgufFile &mix) {
  const GgufMetadata &meta = mix.metadata();
  auto names = meta.getArrayOf<std::string>("kiln.precision.tensors");
  auto sources = meta.getArrayOf<std::string>("kiln.precision.source_types");
  auto costs = meta.getArrayOf<double>("kiln.precision.costs");
  auto smallest = meta.getArrayOf<double>("kiln.precision.smallest_type_costs");
  if (!names || !sources || !costs || !smallest || sources->size() != names->size() ||
      costs->size() != names->size() || smallest->size() != names->size())
    return makeError(mix.source(), ": no kiln.precision record to explain");
  auto budget = meta.getUInt("kiln.precision.budget_bytes");
  auto calibration = meta.getString("kiln.precision.calibration");
  auto tokens = meta.getUInt("kiln.precision.calibration_tokens");
  std::fprintf(stderr, "precision: per-tensor types chosen for a budget of %llu bytes; "
                       "calibration %s (%llu tokens)\n",
               budget ? (unsigned long long)*budget : 0ull,
               calibration ? std::string(*calibration).c_str() : "?",
               tokens ? (unsigned long long)*tokens : 0ull);
  auto unit = meta.getString("kiln.precision.cost_unit");
  std::fprintf(stderr, "  cost: %s of the chosen type; sensitivity: that of the "
                       "smallest type offered\n",
               unit ? std::string(*unit).c_str() : "?");
  std::fprintf(stderr, "  %-28s %-13s %-6s %-6s %10s %7s %11s %11s\n", "tensor", "shape",
               "file", "chosen", "bytes", "bpw", "cost", "sensitivity");
  double bytes = 0, weights = 0, fileBytes = 0, totalCost = 0;
  std::map<std::string, int> counts;
  for (size_t i = 0; i < names->size(); ++i) {
    const GgufTensorInfo *tensor = mix.findTensor((*names)[i]);
    if (!tensor)
      return makeError(mix.source(), ": recorded tensor '", (*names)[i], "' is missing");
    std::string chosen = typeName(tensor->type);
    ++counts[chosen];
    std::fprintf(stderr, "  %-28s %-13s %-6s %-6s %10llu %7.3f %11.4g %11.4g\n",
                 tensor->name.c_str(), tensor->shapeString().c_str(),
                 std::string((*sources)[i]).c_str(), chosen.c_str(),
                 (unsigned long long)tensor->byteSize,
                 8.0 * tensor->byteSize / tensor->elementCount, (*costs)[i],
                 (*smallest)[i]);
    bytes += tensor->byteSize;
    weights += tensor->elementCount;
    totalCost += (*costs)[i];
    auto source = ggmlTypeFromName((*sources)[i]);
    fileBytes += source ? tensor->elementCount / ggmlTypeInfo(*source).blockSize *
                              ggmlTypeInfo(*source).bytesPerBlock
                        : 0;
  }
  std::string mixText;
  for (const auto &[name, count] : counts)
    mixText += (mixText.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  std::fprintf(stderr,
               "  total: %.0f bytes for %.0f weights = %s bits per weight (budget %s; "
               "in the file %s); cost %.4g; %s\n",
               bytes, weights, bpwText(bytes, weights).c_str(),
               budget ? bpwText(double(*budget), weights).c_str() : "?",
               bpwText(fileBytes, weights).c_str(), totalCost, mixText.c_str());
  return Status::success();
}

} // namespace

void explainStoredModel(const GgufFile &model) {
  if (explainMix(model))
    return; // a mix made by kiln: its record says more
  std::fprintf(stderr, "precision: as stored in %s (no --precision auto)\n",
               model.source().c_str());
  std::fprintf(stderr, "  %-28s %-13s %-6s %10s %7s\n", "tensor", "shape", "type", "bytes",
               "bpw");
  double bytes = 0, weights = 0;
  for (const GgufTensorInfo &tensor : model.tensors()) {
    if (!choosable(tensor))
      continue;
    std::fprintf(stderr, "  %-28s %-13s %-6s %10llu %7.3f\n", tensor.name.c_str(),
                 tensor.shapeString().c_str(), typeName(tensor.type).c_str(),
                 (unsigned long long)tensor.byteSize,
                 8.0 * tensor.byteSize / tensor.elementCount);
    bytes += tensor.byteSize;
    weights += tensor.elementCount;
  }
  std::fprintf(stderr, "  total: %.0f bytes for %.0f weights = %s bits per weight\n", bytes,
               weights, bpwText(bytes, weights).c_str());
}

Result<std::string> mixedPrecisionModel(const GgufFile &model, const std::string &path,
                                        const PrecisionRequest &request) {
  if (request.candidateTypes.empty())
    return makeError("--precision auto: the target offers no weight types to choose from");
  std::string calibrationPath =
      request.calibrationFile.empty() ? bundledCalibration() : request.calibrationFile;
  auto text = readText(calibrationPath);
  if (!text)
    return std::move(text).takeError();

  std::string output = cachePath(model, path, request, *text);
  // The table comes from the mix file itself, fresh or cached.
  auto explained = [&]() -> Result<std::string> {
    if (request.explain) {
      auto mix = GgufFile::open(output);
      if (!mix)
        return std::move(mix).takeError();
      KILN_TRY(explainMix(*mix));
    }
    return output;
  };
  if (request.useCache && fs::exists(output))
    return explained();

  uint64_t weights = 0;
  for (const GgufTensorInfo &tensor : model.tensors())
    if (choosable(tensor))
      weights += tensor.elementCount;
  uint64_t budget = request.budgetBytes
                        ? request.budgetBytes
                        : uint64_t(std::floor(request.budgetBitsPerWeight * double(weights) / 8));

  if (Status fits = checkBudget(model, budget, request.candidateTypes); !fits)
    return makeError("--precision auto: ", path, ": ", fits.message());
  std::error_code ec;
  fs::create_directories(fs::path(output).parent_path(), ec);
  if (ec)
    return makeError(fs::path(output).parent_path().string(),
                     ": cannot create the precision cache: ", ec.message());
  std::fprintf(stderr, "precision: calibrating on %s\n", calibrationPath.c_str());
  CalibrationOptions calibrationOptions;
  calibrationOptions.useKernelCache = request.useCache;
  calibrationOptions.scratchDir = fs::path(output).parent_path().string();
  auto calibration = CalibrationRun::create(model, *text, calibrationOptions);
  if (!calibration)
    return makeError("--precision auto: calibration on ", calibrationPath, ": ",
                     calibration.error().message);
  auto costs = costTensors(model, **calibration, request.measureKl,
                           request.candidateTypes);
  if (!costs)
    return std::move(costs).takeError();
  std::vector<TensorOptions> options;
  for (const TensorCosts &tensor : *costs)
    options.push_back(tensor.options);
  auto choice = choosePrecision(options, budget);
  if (!choice)
    return makeError("--precision auto: ", path, ": ", choice.error().message);

  // Tensors in their chosen types, in the file's order; the rest copied.
  QuantizePlan plan;
  std::map<size_t, GgmlType> chosen;
  std::vector<std::string> names, sourceTypes;
  std::vector<double> chosenCosts, smallestCosts;
  for (size_t t = 0; t < costs->size(); ++t) {
    const TensorOptions &tensor = (*costs)[t].options;
    const TypeOption &option = tensor.options[choice->chosen[t]];
    chosen[(*costs)[t].index] = option.type;
    names.push_back(tensor.name);
    GgmlType source = tensor.options[0].type;
    sourceTypes.push_back(typeName(source));
    chosenCosts.push_back(option.cost);
    const TypeOption *least = &tensor.options[0];
    for (const TypeOption &o : tensor.options)
      if (o.bytes < least->bytes)
        least = &o;
    smallestCosts.push_back(least->cost);
    if (option.type != source && ggmlTypeInfo(source).blockSize > 1)
      std::fprintf(stderr,
                   "precision: %s is %s in %s; requantized to %s (its rounding error "
                   "adds to the file's)\n",
                   tensor.name.c_str(), typeName(source).c_str(), path.c_str(),
                   typeName(option.type).c_str());
  }
  for (size_t index = 0; index < model.tensors().size(); ++index) {
    const GgufTensorInfo &tensor = model.tensors()[index];
    auto found = chosen.find(index);
    GgmlType type = found != chosen.end() ? found->second : tensor.type;
    plan.tensors.push_back({index, type, type != tensor.type, std::nullopt});
  }

  QuantizeOptions write;
  write.recipe = RecipeInfo{"auto", FileType::Mixed, GgmlType::F32};
  GgufArray namesArray{names}, sourcesArray{sourceTypes}, costsArray{chosenCosts},
      smallestArray{smallestCosts};
  std::vector<std::pair<std::string, GgufValue>> record = {
      {"kiln.precision.source", GgufValue(path)},
      {"kiln.precision.budget_bytes", GgufValue(budget)},
      {"kiln.precision.calibration", GgufValue(calibrationPath)},
      {"kiln.precision.calibration_tokens", GgufValue(uint64_t((*calibration)->tokens()))},
      {"kiln.precision.cost_unit", GgufValue(std::string(
          request.measureKl ? "predicted KL (nats/token)" : "weighted squared error"))},
      {"kiln.precision.tensors", GgufValue(namesArray)},
      {"kiln.precision.source_types", GgufValue(sourcesArray)},
      {"kiln.precision.costs", GgufValue(costsArray)},
      {"kiln.precision.smallest_type_costs", GgufValue(smallestArray)},
  };
  // The cache's name is a hash of the model's content, so only a model
  // handed in from the cache itself could meet it.
  KILN_TRY(checkNotInput(output, path));
  KILN_TRY(writeQuantized(model, plan, write, output, record));
  return explained();
}

} // namespace kiln::precision
