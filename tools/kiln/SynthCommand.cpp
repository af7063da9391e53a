// `kiln synth`: write a random-weight Llama model of a real shape.
#include "CommonFlags.h"
#include "Command.h"

#include "gguf/GgufFile.h"
#include "support/SameFile.h"
#include "synth/SyntheticModel.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace kiln::cli {

namespace {

struct SynthArgs {
  std::string preset;
  std::string type = "f16";
  std::string output;
  std::string vocab;
  uint64_t seed = 1;
  unsigned threads = 0;
};

std::string presetNames() {
  std::string names;
  for (const LlamaShape &shape : llamaPresets())
    names += (names.empty() ? "" : ", ") + std::string(shape.name);
  return names;
}

int runSynth(const SynthArgs &args) {
  SynthOptions options;
  options.shape = findLlamaPreset(args.preset);
  if (!options.shape)
    return reportError("unknown preset '" + args.preset + "' (known: " +
                       presetNames() + ")");
  auto type = ggmlTypeFromName(args.type);
  if (!type || !isSynthType(*type))
    return reportError("--type " + args.type +
                       ": synth writes f32, f16, q8_0 or q4_0");
  options.type = *type;
  options.seed = args.seed;
  options.threads = args.threads;

  if (Status distinct = checkNotInput(args.output, args.vocab); !distinct)
    return reportError(distinct.message());
  auto vocab = GgufFile::open(args.vocab);
  if (!vocab)
    return reportError(vocab.error().message);

  bool interactive = isatty(STDERR_FILENO);
  options.progress = [interactive](size_t done, size_t total) {
    if (interactive || done == total)
      std::fprintf(stderr, "\rsynth: %zu/%zu tensors written", done, total);
    if (done == total)
      std::fprintf(stderr, "\n");
  };
  auto start = std::chrono::steady_clock::now();
  Status written = writeSyntheticLlama(options, *vocab, args.output);
  if (!written)
    return reportError(written.message());
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  std::fprintf(stderr, "synth: wrote %s (%s, %s) in %.1f s\n",
               args.output.c_str(), args.preset.c_str(), args.type.c_str(),
               seconds);
  return 0;
}

} // namespace

Command addSynthCommand(CLI::App &parent) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App *app = parent.add_subcommand(
      "synth", "Write a random-weight Llama model of a real shape (for "
               "benchmarks)");
  app->add_option("--preset", args->preset, "Shape: " + presetNames())
      ->required();
  app->add_option("--type", args->type,
                  "Type of the weight matrices: f32, f16, q8_0, q4_0")
      ->capture_default_str();
  app->add_option("-o,--output", args->output, "Output GGUF file")
      ->required();
  app->add_option("--vocab", args->vocab,
                  "GGUF file whose tokenizer.* metadata (a real Llama "
                  "vocabulary) the model takes")
      ->required();
  app->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  addThreadsOption(*app, args->threads);
  return {app, [args]() { return runSynth(*args); }};
}

} // namespace kiln::cli
