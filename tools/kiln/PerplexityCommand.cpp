// `kiln perplexity MODEL -f TEXT [-c N]`: the model's perplexity on a text,
// measured as llama.cpp's perplexity tool does (runtime/Perplexity.h), so
// the numbers compare with llama.cpp's.
#include "Command.h"
#include "CompileFlags.h"

#include "CpuPipeline.h"
#include "gguf/GgufFile.h"
#include "runtime/Executor.h"
#include "runtime/Perplexity.h"
#include "tokenizer/Tokenizer.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

namespace kiln::cli {

namespace {

struct PerplexityArgs {
  CompileFlags compile;
  std::string model;
  std::string textFile;
  int context = 512;
  unsigned threads = 0;
  bool json = false;
  bool noCache = false;
};

int runPerplexity(const PerplexityArgs &args) {
  std::ifstream in(args.textFile, std::ios::binary);
  if (!in)
    return reportError(args.textFile + ": cannot read the text file");
  std::ostringstream text;
  text << in.rdbuf();

  auto file = openModelToCompile(args.compile, args.model);
  if (!file)
    return reportError(file.error().message);
  auto tokenizer = Tokenizer::fromMetadata(file->metadata());
  if (!tokenizer)
    return reportError(tokenizer.error().message);
  auto tokens = tokenizer->encode(text.str(), EncodeOptions{});
  if (!tokens)
    return reportError(tokens.error().message);

  codegen::CpuCompileOptions options;
  if (Status s = applyCompileFlags(args.compile, options); !s.ok())
    return reportError(s.message());
  options.allLogits = true;
  if (!args.noCache)
    options.cpu.cacheDir = codegen::cpu::defaultCacheDir();
  auto program = codegen::compileForCpu(*file, options);
  if (!program)
    return reportError(program.error().message);
  int64_t n = args.context;
  if (n < 4)
    return reportError("-c must be at least 4");
  if (n > program->spec.contextLength)
    return reportError("-c " + std::to_string(n) + " exceeds the model's " +
                       std::to_string(program->spec.contextLength) + "-token context");
  size_t chunks = tokens->size() / size_t(n);
  if (chunks == 0)
    return reportError(args.textFile + ": " + std::to_string(tokens->size()) +
                       " tokens, fewer than one " + std::to_string(n) +
                       "-token chunk (-c)");

  runtime::ThreadPool pool(args.threads);
  runtime::ExecutorOptions execOptions;
  execOptions.contextLength = n;
  execOptions.maxBatch = n;
  auto executor = runtime::Executor::create(program->lowered.plan,
                                            program->jit->kernels(), *file, pool,
                                            execOptions);
  if (!executor)
    return reportError(executor.error().message);

  const Vocabulary &vocab = tokenizer->vocabulary();
  size_t vocabSize = size_t(program->spec.vocabSize);
  size_t first = size_t(n) / 2;
  runtime::PerplexityScore score;
  std::vector<int32_t> chunk(n);
  for (size_t c = 0; c < chunks; ++c) {
    std::copy_n(tokens->begin() + c * n, n, chunk.begin());
    if (vocab.addBos() && vocab.bos() != kNoToken)
      chunk[0] = vocab.bos();
    auto logits = (*executor)->prefill(chunk, 0);
    if (!logits)
      return reportError(logits.error().message);
    // Position j predicts the text's token j + 1 (not the BOS).
    std::span<const int32_t> targets(tokens->data() + c * n + first + 1, n - 1 - first);
    score.add(logits->subspan(first * vocabSize), targets, vocabSize);
    if (!args.json)
      std::fprintf(stderr, "\rchunk %zu/%zu: perplexity %.4f", c + 1, chunks,
                   score.perplexity());
  }
  if (args.json) {
    std::printf("{\"perplexity\": %.6f, \"error\": %.6f, \"chunks\": %zu, "
                "\"context\": %lld, \"scored_tokens\": %zu}\n",
                score.perplexity(), score.perplexityError(), chunks, (long long)n,
                score.count());
  } else {
    std::fprintf(stderr, "\n");
    std::printf("perplexity: %.4f +/- %.4f (%zu chunks of %lld tokens, %zu scored)\n",
                score.perplexity(), score.perplexityError(), chunks, (long long)n,
                score.count());
  }
  return 0;
}

} // namespace

Command addPerplexityCommand(CLI::App &parent) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App *app = parent.add_subcommand(
      "perplexity", "Perplexity of a model on a text, as llama.cpp's perplexity tool "
                    "measures it");
  app->add_option("model", args->model, "GGUF file")->required();
  addCompileFlags(*app, args->compile);
  app->add_option("-f,--file", args->textFile, "Text file")->required();
  app->add_option("-c,--context", args->context,
                  "Tokens per chunk; the second half of each is scored")
      ->capture_default_str();
  app->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  app->add_flag("--json", args->json, "Print one JSON object");
  app->add_flag("--no-cache", args->noCache, "Compile the kernels afresh");
  return {app, [args]() { return runPerplexity(*args); }};
}

} // namespace kiln::cli
