// `kiln convert HF_DIR -o OUT.gguf`: a Hugging Face checkpoint to GGUF.
#include "Command.h"

#include "convert/Architecture.h"
#include "convert/Converter.h"
#include "convert/TensorPlan.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace kiln::cli {

namespace {

std::string listOutTypes() {
  std::string names;
  for (const convert::OutType &type : convert::outTypes())
    names += (names.empty() ? "" : ", ") + std::string(type.name);
  return names;
}

std::string listArchitectures() {
  std::string names;
  for (const convert::Architecture &arch : convert::architectures())
    names += (names.empty() ? "" : ", ") + std::string(arch.hfName);
  return names;
}

int runConvert(convert::ConvertOptions options) {
  const bool interactive = isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  options.progress = [interactive, start](size_t done, size_t total,
                                          uint64_t bytesDone, uint64_t bytes) {
    if (!interactive && done != total)
      return;
    constexpr int kWidth = 30;
    int filled = bytes ? static_cast<int>(kWidth * bytesDone / bytes) : kWidth;
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    std::fprintf(stderr, "\rconvert: [%-*s] %zu/%zu tensors, %.1f/%.1f MiB, %.1f s",
                 kWidth, std::string(static_cast<size_t>(filled), '#').c_str(),
                 done, total, bytesDone / 1048576.0, bytes / 1048576.0, seconds);
    if (done == total)
      std::fprintf(stderr, "\n");
  };
  auto summary = convert::convertModel(options);
  if (!summary)
    return reportError(summary.error().message);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::fprintf(stderr,
               "convert: wrote %s (%s, %s, %zu tensors, %llu parameters) in "
               "%.2f s, %.0f MB/s of checkpoint read\n",
               options.output.c_str(), summary->architecture.c_str(),
               options.outType.c_str(), summary->tensors,
               static_cast<unsigned long long>(summary->parameters), seconds,
               seconds > 0 ? summary->inputBytes / 1e6 / seconds : 0.0);
  if (!summary->notRunnable.empty())
    std::fprintf(stderr, "kiln: warning: %s is written as llama.cpp writes it, "
                         "but kiln cannot run it yet: %s\n",
                 options.output.c_str(), summary->notRunnable.c_str());
  return 0;
}

} // namespace

Command addConvertCommand(CLI::App &parent) {
  auto options = std::make_shared<convert::ConvertOptions>();
  CLI::App *app = parent.add_subcommand(
      "convert", "Convert a Hugging Face model folder (safetensors or PyTorch "
                 "weights, config.json, tokenizer) to GGUF");
  app->add_option("model_dir", options->modelDir,
                  "Hugging Face model folder")
      ->required();
  app->add_option("-o,--output", options->output, "Output GGUF file")
      ->required();
  app->add_option("--outtype", options->outType,
                  "Type of the weight matrices: " + listOutTypes() +
                      " (norms, biases and 1-D tensors stay f32)")
      ->capture_default_str();
  app->add_option("--arch-override", options->archOverride,
                  "Hugging Face architecture to convert as, instead of "
                  "config.json's (" + listArchitectures() + ")");
  app->add_option("--name", options->name,
                  "general.name (default: the folder's name)");
  app->add_option("--vocab-pre", options->vocabPre,
                  "tokenizer.ggml.pre for a BPE tokenizer.json kiln does not "
                  "recognize (e.g. gpt-2, llama-bpe, qwen2)");
  return {app, [options]() { return runConvert(*options); }};
}

} // namespace kiln::cli
