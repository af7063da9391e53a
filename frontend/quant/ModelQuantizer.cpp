#include "ModelQuantizer.h"

#include "Dequantize.h"
#include "Quantize.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace kiln {

namespace {

std::string typeName(GgmlType type) {
  return std::string(ggmlTypeInfo(type).name);
}

// Runs body(begin, end) over [0, count) in chunks of `grain`, on up to
// `threads` threads; returns the first error.
Status parallelChunks(size_t count, size_t grain, unsigned threads,
                      const std::function<Status(size_t, size_t)> &body) {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  Status failure;
  auto work = [&] {
    for (;;) {
      size_t begin = next.fetch_add(grain);
      if (begin >= count)
        return;
      Status status = body(begin, std::min(count, begin + grain));
      if (!status) {
        std::lock_guard lock(mutex);
        if (failure.ok())
          failure = std::move(status);
        next = count; // stop the others early
      }
    }
  };
  size_t chunks = (count + grain - 1) / grain;
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < chunks; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &thread : pool)
    thread.join();
  return failure;
}

// Rows per work item: about 16K values, as llama-quantize chunks its work,
// so small tensors do not pay for threads they cannot use.
size_t rowsPerChunk(int64_t rowLength) {
  constexpr int64_t kChunkValues = 32 * 512;
  return static_cast<size_t>(
      std::max<int64_t>(1, (kChunkValues + rowLength - 1) / rowLength));
}

// The tensor as floats: its own bytes when it is f32, else dequantized.
Status tensorAsFloats(const GgufFile &input, const GgufTensorInfo &tensor,
                      unsigned threads, std::vector<float> &out) {
  auto bytes = input.tensorData(tensor);
  out.resize(tensor.elementCount);
  const GgmlTypeInfo &info = ggmlTypeInfo(tensor.type);
  const int64_t rowLength = tensor.dims.empty() ? 1 : tensor.dims[0];
  const size_t rows = rowLength ? tensor.elementCount / rowLength : 0;
  const size_t rowBytes = rowLength / info.blockSize * info.bytesPerBlock;
  return parallelChunks(
      rows, rowsPerChunk(rowLength), threads, [&](size_t begin, size_t end) {
        return dequantize(
            tensor.type, bytes.subspan(begin * rowBytes, (end - begin) * rowBytes),
            std::span<float>(out).subspan(begin * rowLength,
                                          (end - begin) * rowLength));
      });
}

Status convertTensor(const GgufFile &input, const GgufTensorInfo &tensor,
                     GgmlType type, unsigned threads, std::span<uint8_t> out) {
  std::vector<float> values;
  KILN_TRY(tensorAsFloats(input, tensor, threads, values));
  const GgmlTypeInfo &info = ggmlTypeInfo(type);
  const int64_t rowLength = tensor.dims[0];
  const size_t rows = rowLength ? tensor.elementCount / rowLength : 0;
  const size_t rowBytes = rowLength / info.blockSize * info.bytesPerBlock;
  return parallelChunks(
      rows, rowsPerChunk(rowLength), threads, [&](size_t begin, size_t end) {
        return quantize(
            type,
            std::span<const float>(values).subspan(begin * rowLength,
                                                   (end - begin) * rowLength),
            out.subspan(begin * rowBytes, (end - begin) * rowBytes));
      });
}

// A conversion kiln can do: read the source as floats, write the target.
Status checkConvertible(const GgufFile &input, const GgufTensorInfo &tensor,
                        const TensorPlan &plan) {
  std::string where = input.source() + ": tensor '" + tensor.name + "'";
  if (!canDequantize(tensor.type))
    return makeError(where, ": cannot read ", typeName(tensor.type),
                     " values to convert them");
  if (!canQuantize(plan.type)) {
    std::string why = plan.preferred
                          ? " (llama.cpp's fallback for " +
                                typeName(*plan.preferred) + ", whose blocks of " +
                                std::to_string(ggmlTypeInfo(*plan.preferred).blockSize) +
                                " do not divide its rows of " +
                                std::to_string(tensor.dims[0]) + ")"
                          : "";
    return makeError(where, ": kiln cannot write ", typeName(plan.type),
                     " yet", why);
  }
  if (tensor.dims[0] % ggmlTypeInfo(plan.type).blockSize != 0)
    return makeError(where, ": rows of ", std::to_string(tensor.dims[0]),
                     " values are not a whole number of ", typeName(plan.type),
                     " blocks (", std::to_string(ggmlTypeInfo(plan.type).blockSize),
                     ") and llama.cpp has no fallback for it");
  return Status::success();
}

// Dimensions as ggml writes them: trailing 1s dropped, at least one.
std::vector<int64_t> ggmlDims(std::vector<int64_t> dims) {
  while (dims.size() > 1 && dims.back() == 1)
    dims.pop_back();
  if (dims.empty())
    dims.push_back(1);
  return dims;
}

} // namespace

Result<QuantizePlan> planQuantization(const GgufFile &input,
                                      const RecipeInfo &recipe,
                                      const RecipeOptions &options) {
  std::vector<std::string> names;
  for (const GgufTensorInfo &tensor : input.tensors())
    names.push_back(tensor.name);
  RecipePlanner planner(recipe, RecipeModel::from(input.metadata(), names),
                        options);
  QuantizePlan plan;
  for (size_t index : llamaTensorOrder(names)) {
    const GgufTensorInfo &tensor = input.tensors()[index];
    TensorPlan step{index, tensor.type, false, std::nullopt};
    if (isQuantizedTensor(tensor.name, tensor.dims)) {
      auto choice = planner.choose(tensor.name, tensor.dims[0]);
      step.type = choice.type;
      step.preferred = choice.preferred;
      step.convert = choice.type != tensor.type; // same type: copied
    }
    if (step.convert) {
      KILN_TRY(checkConvertible(input, tensor, step));
      if (ggmlTypeInfo(tensor.type).blockSize > 1)
        plan.requantized.push_back(index);
    }
    plan.tensors.push_back(step);
  }
  return plan;
}

Status writeQuantized(
    const GgufFile &input, const QuantizePlan &plan, const QuantizeOptions &options,
    const std::string &outputPath,
    std::span<const std::pair<std::string, GgufValue>> extraMetadata) {
  unsigned threads = options.threads
                         ? options.threads
                         : std::max(1u, std::thread::hardware_concurrency());
  // llama-quantize writes the current GGUF version (3) whatever it read.
  GgufWriter writer(3);
  GgufMetadata &metadata = writer.metadata();
  for (const auto &[key, value] : input.metadata().entries())
    metadata.set(key, value);
  // llama-quantize re-sets these two, which moves them to the end, and
  // drops the split keys: the output is one file.
  metadata.erase("general.quantization_version");
  metadata.set("general.quantization_version", GgufValue(kQuantizationVersion));
  metadata.erase("general.file_type");
  metadata.set("general.file_type",
               GgufValue(static_cast<uint32_t>(options.recipe.fileType)));
  for (const char *key : {"split.no", "split.count", "split.tensors.count"})
    metadata.erase(key);
  for (const auto &[key, value] : extraMetadata) {
    metadata.erase(key);
    metadata.set(key, value);
  }

  for (const TensorPlan &step : plan.tensors) {
    const GgufTensorInfo &tensor = input.tensors()[step.source];
    if (!step.convert) {
      KILN_TRY(writer.addTensor(tensor.name, tensor.type,
                                ggmlDims(tensor.dims),
                                input.tensorData(tensor)));
      continue;
    }
    KILN_TRY(writer.addTensor(
        tensor.name, step.type, ggmlDims(tensor.dims),
        [&input, &tensor, type = step.type, threads](std::span<uint8_t> out) {
          return convertTensor(input, tensor, type, threads, out);
        }));
  }
  return writer.write(outputPath, options.progress);
}

} // namespace kiln
