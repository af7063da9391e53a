// `kiln quantize IN OUT TYPE`: a model in fewer bits, as llama-quantize
// writes it.
#include "CommonFlags.h"
#include "Command.h"

#include "quant/ModelQuantizer.h"
#include "quant/Quantize.h"
#include "support/SameFile.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <unistd.h>

namespace kiln::cli {

namespace {

struct QuantizeArgs {
  std::string input, output, type;
  bool pure = false;
  std::string outputType, tokenEmbeddingType;
  unsigned threads = 0;
};

std::string recipeNames() {
  std::string names;
  for (const RecipeInfo &recipe : allRecipes())
    names += (names.empty() ? "" : ", ") + std::string(recipe.name);
  return names;
}

// A tensor type by its ggml name, any case ("q6_K", "Q6_K", "q6_k").
Result<GgmlType> parseTensorType(const std::string &option,
                                 const std::string &name) {
  auto lower = [](std::string_view text) {
    std::string out(text);
    for (char &c : out)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (const GgmlTypeInfo &info : allGgmlTypes())
    if (lower(info.name) == lower(name)) {
      if (!canQuantize(info.type))
        return makeError(option, " ", name, ": kiln cannot write ",
                         std::string(info.name), " tensors");
      return info.type;
    }
  return makeError(option, " ", name, ": unknown tensor type");
}

// Draws "[#####.....] 12/39 tensors" in place on a terminal; elsewhere
// only the final state, so logs stay short.
GgufWriter::Progress progressBar() {
  bool interactive = isatty(STDERR_FILENO);
  return [interactive](size_t done, size_t total) {
    if (!interactive && done != total)
      return;
    constexpr size_t kWidth = 30;
    size_t filled = total ? done * kWidth / total : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\rquantize: [%s] %zu/%zu tensors", bar.c_str(),
                 done, total);
    if (done == total)
      std::fprintf(stderr, "\n");
  };
}

std::string typeCounts(const QuantizePlan &plan) {
  std::map<std::string, int> counts;
  for (const TensorPlan &step : plan.tensors)
    ++counts[std::string(ggmlTypeInfo(step.type).name)];
  std::string text;
  for (const auto &[name, count] : counts)
    text += (text.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  return text;
}

// One line per fallback (q3_K -> iq4_nl ...), not one per tensor.
void reportFallbacks(const GgufFile &input, const QuantizePlan &plan) {
  std::map<std::pair<GgmlType, GgmlType>, std::vector<std::string>> fallbacks;
  for (const TensorPlan &step : plan.tensors)
    if (step.preferred)
      fallbacks[{*step.preferred, step.type}].push_back(
          input.tensors()[step.source].name);
  for (const auto &[types, names] : fallbacks)
    std::fprintf(stderr,
                 "quantize: %zu tensors (%s%s) have rows that are not whole "
                 "%s blocks: %s instead, as llama.cpp does\n",
                 names.size(), names.front().c_str(),
                 names.size() > 1 ? ", ..." : "",
                 std::string(ggmlTypeInfo(types.first).name).c_str(),
                 std::string(ggmlTypeInfo(types.second).name).c_str());
}

int runQuantize(const QuantizeArgs &args) {
  auto recipe = findRecipe(args.type);
  if (!recipe)
    return reportError("unknown quantization type '" + args.type +
                       "' (known: " + recipeNames() + ")");
  QuantizeOptions options{*recipe, {}, args.threads, progressBar()};
  options.recipeOptions.pure = args.pure;
  if (!args.outputType.empty()) {
    auto type = parseTensorType("--output-type", args.outputType);
    if (!type)
      return reportError(type.error().message);
    options.recipeOptions.outputType = *type;
  }
  if (!args.tokenEmbeddingType.empty()) {
    auto type =
        parseTensorType("--token-embedding-type", args.tokenEmbeddingType);
    if (!type)
      return reportError(type.error().message);
    options.recipeOptions.tokenEmbeddingType = *type;
  }
  if (Status distinct = checkNotInput(args.output, args.input); !distinct)
    return reportError(distinct.message());

  auto input = GgufFile::open(args.input);
  if (!input)
    return reportError(input.error().message);
  auto plan = planQuantization(*input, *recipe, options.recipeOptions);
  if (!plan)
    return reportError(plan.error().message);
  if (!plan->requantized.empty())
    std::fprintf(stderr,
                 "quantize: %s has %zu quantized tensors to convert; they are "
                 "dequantized to f32 first (their rounding error adds up)\n",
                 args.input.c_str(), plan->requantized.size());
  reportFallbacks(*input, *plan);

  auto start = std::chrono::steady_clock::now();
  Status written = writeQuantized(*input, *plan, options, args.output);
  if (!written)
    return reportError(written.message());
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::error_code ec;
  auto outSize = std::filesystem::file_size(args.output, ec);
  std::fprintf(stderr,
               "quantize: wrote %s (%s: %s), %.2f MB -> %.2f MB in %.2f s\n",
               args.output.c_str(), std::string(recipe->name).c_str(),
               typeCounts(*plan).c_str(), input->fileSize() / 1e6,
               ec ? 0.0 : outSize / 1e6, seconds);
  return 0;
}

} // namespace

Command addQuantizeCommand(CLI::App &parent) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App *app = parent.add_subcommand(
      "quantize", "Write a model's weights in fewer bits, tensor for tensor "
                  "as llama-quantize does");
  app->add_option("input", args->input, "Input GGUF file")->required();
  app->add_option("output", args->output, "Output GGUF file")->required();
  app->add_option("type", args->type, "Recipe: " + recipeNames())
      ->required();
  app->add_flag("--pure", args->pure,
                "Every quantized tensor in the recipe's base type (no "
                "mixing)");
  app->add_option("--output-type", args->outputType,
                  "Type of output.weight (e.g. q8_0)");
  app->add_option("--token-embedding-type", args->tokenEmbeddingType,
                  "Type of token_embd.weight");
  addThreadsOption(*app, args->threads);
  return {app, [args]() { return runQuantize(*args); }};
}

} // namespace kiln::cli
