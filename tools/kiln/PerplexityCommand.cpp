// `kiln perplexity MODEL -f TEXT [-c N] [--kl-base BASE]`: the model's
// perplexity on a text, measured as llama.cpp's perplexity tool does
// (eval/Perplexity.h), so the numbers compare with llama.cpp's; with a
// base model, the KL divergence of the model's distributions from the
// base's on the same scored tokens (llama.cpp's --kl-divergence).
#include "Command.h"
#include "CommonFlags.h"
#include "CompileFlags.h"

#include "codegen/Compile.h"
#include "eval/Perplexity.h"
#include "gguf/GgufFile.h"
#include "runtime/Executor.h"
#include "runtime/FiniteCheck.h"
#include "support/TextFile.h"
#include "tokenizer/Tokenizer.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

namespace kiln::cli {

namespace {

struct PerplexityArgs {
  CompileFlags compile;
  std::string model;
  std::string textFile;
  std::string klBase;
  int context = 512;
  unsigned threads = 0;
  bool json = false;
  bool noCache = false;
};

// A model compiled for all logits, with an executor for n-token chunks.
struct LoadedModel {
  codegen::Program program;
  std::unique_ptr<runtime::Executor> executor;
};

Result<LoadedModel> loadModel(const GgufFile &file, const PerplexityArgs &args,
                              int64_t n, runtime::ThreadPool &pool) {
  codegen::CompileOptions options;
  KILN_TRY(applyCompileFlags(args.compile, options));
  options.allLogits = true;
  if (!args.noCache)
    options.cacheDir = codegen::cpu::defaultCacheDir();
  auto program = codegen::compile(file, options);
  if (!program)
    return std::move(program).takeError();
  if (n > program->spec.contextLength)
    return makeError("-c ", std::to_string(n), " exceeds the model's ",
                     std::to_string(program->spec.contextLength),
                     "-token context (", file.source(), ")");
  runtime::ExecutorOptions execOptions;
  execOptions.contextLength = n;
  execOptions.maxBatch = n;
  auto executor = codegen::makeExecutor(*program, file, pool, execOptions);
  if (!executor)
    return std::move(executor).takeError();
  return LoadedModel{std::move(program).value(), std::move(executor).value()};
}

// KL divergence is only defined between distributions over the same tokens.
Status checkSameVocabulary(const Vocabulary &model, const Vocabulary &base) {
  if (model.size() != base.size())
    return makeError(model.source(), " and ", base.source(),
                     " do not share a vocabulary: ", std::to_string(model.size()),
                     " tokens against ", std::to_string(base.size()),
                     " (--kl-base needs the same tokens)");
  for (size_t id = 0; id < model.size(); ++id)
    if (model.token(TokenId(id)).text != base.token(TokenId(id)).text)
      return makeError(model.source(), " and ", base.source(),
                       " do not share a vocabulary: token ", std::to_string(id),
                       " is '", model.token(TokenId(id)).text, "' in one and '",
                       base.token(TokenId(id)).text,
                       "' in the other (--kl-base needs the same tokens)");
  return Status::success();
}

void printKl(const eval::KlScore &kl, const eval::PerplexityScore &base) {
  std::printf("base perplexity: %.4f +/- %.4f\n", base.perplexity(),
              base.perplexityError());
  std::printf("KL divergence: mean %.6f +/- %.6f, median %.6f, 99%% %.6f, "
              "max %.6f\n",
              kl.meanKl(), kl.klError(), kl.klQuantile(0.5), kl.klQuantile(0.99),
              kl.maxKl());
  std::printf("same top token: %.3f +/- %.3f %%\n", 100 * kl.top1Agreement(),
              100 * kl.top1Error());
}

int runPerplexity(const PerplexityArgs &args) {
  auto text = readTextFile(args.textFile, "the text file (-f)");
  if (!text)
    return reportError(text.error().message);
  int64_t n = args.context; // at least 4: checked by the flag's range

  auto file = openModelToCompile(args.compile, args.model);
  if (!file)
    return reportError(file.error().message);
  auto tokenizer = Tokenizer::fromMetadata(file->metadata());
  if (!tokenizer)
    return reportError(tokenizer.error().message);
  // The base model is read as it is stored: it is the reference.
  std::optional<GgufFile> baseFile;
  if (!args.klBase.empty()) {
    auto opened = GgufFile::open(args.klBase);
    if (!opened)
      return reportError(opened.error().message);
    baseFile = std::move(opened).value();
    auto baseVocab = Vocabulary::fromMetadata(baseFile->metadata());
    if (!baseVocab)
      return reportError(baseVocab.error().message);
    if (Status s = checkSameVocabulary(tokenizer->vocabulary(), *baseVocab); !s)
      return reportError(s.message());
  }
  auto tokens = tokenizer->encode(*text, EncodeOptions{});
  if (!tokens)
    return reportError(tokens.error().message);
  // Before compiling and allocating: a -c past the text needs neither.
  size_t chunks = tokens->size() / size_t(n);
  if (chunks == 0)
    return reportError(args.textFile + ": " + std::to_string(tokens->size()) +
                       " tokens, fewer than one " + std::to_string(n) +
                       "-token chunk (-c)");

  runtime::ThreadPool pool(args.threads);
  auto model = loadModel(*file, args, n, pool);
  if (!model)
    return reportError(model.error().message);
  std::optional<LoadedModel> base;
  if (baseFile) {
    auto loaded = loadModel(*baseFile, args, n, pool);
    if (!loaded)
      return reportError(loaded.error().message);
    if (loaded->program.spec.vocabSize != model->program.spec.vocabSize)
      return reportError(args.klBase + ": " +
                         std::to_string(loaded->program.spec.vocabSize) +
                         " logits per token, " + args.model + ": " +
                         std::to_string(model->program.spec.vocabSize));
    base = std::move(loaded).value();
  }

  const Vocabulary &vocab = tokenizer->vocabulary();
  size_t vocabSize = size_t(model->program.spec.vocabSize);
  size_t first = size_t(n) / 2;
  eval::PerplexityScore score, baseScore;
  eval::KlScore kl;
  std::vector<int32_t> chunk(n);
  for (size_t c = 0; c < chunks; ++c) {
    std::copy_n(tokens->begin() + c * n, n, chunk.begin());
    if (vocab.addBos() && vocab.bos() != kNoToken)
      chunk[0] = vocab.bos();
    auto logits = model->executor->prefill(chunk, 0);
    if (!logits)
      return reportError(logits.error().message);
    std::string what = "chunk " + std::to_string(c + 1) + " (text tokens " +
                       std::to_string(c * n) + ".." + std::to_string(c * n + n - 1) + ")";
    if (Status s = runtime::checkLogitsFinite(
            *model->executor, model->program.lowered.plan, *logits, args.model, what,
            [&] { (void)model->executor->prefill(chunk, 0); });
        !s)
      return reportError(s.message());
    // Position j predicts the text's token j + 1 (not the BOS).
    std::span<const int32_t> targets(tokens->data() + c * n + first + 1, n - 1 - first);
    std::span<const float> scored = logits->subspan(first * vocabSize,
                                                    targets.size() * vocabSize);
    score.add(scored, targets, vocabSize);
    if (base) {
      // Each executor owns its logits buffer: both stay valid here.
      auto baseLogits = base->executor->prefill(chunk, 0);
      if (!baseLogits)
        return reportError(baseLogits.error().message);
      if (Status s = runtime::checkLogitsFinite(
              *base->executor, base->program.lowered.plan, *baseLogits, args.klBase,
              what, [&] { (void)base->executor->prefill(chunk, 0); });
          !s)
        return reportError(s.message());
      std::span<const float> baseScored =
          baseLogits->subspan(first * vocabSize, targets.size() * vocabSize);
      baseScore.add(baseScored, targets, vocabSize);
      kl.add(baseScored, scored, vocabSize);
    }
    if (!args.json) {
      std::fprintf(stderr, "\rchunk %zu/%zu: perplexity %.4f", c + 1, chunks,
                   score.perplexity());
      if (base)
        std::fprintf(stderr, ", KL %.6f", kl.meanKl());
    }
  }
  if (args.json) {
    std::printf("{\"perplexity\": %.6f, \"error\": %.6f, \"chunks\": %zu, "
                "\"context\": %lld, \"scored_tokens\": %zu",
                score.perplexity(), score.perplexityError(), chunks, (long long)n,
                score.count());
    if (base)
      std::printf(", \"base_perplexity\": %.6f, \"base_error\": %.6f, "
                  "\"kl_mean\": %.9f, \"kl_error\": %.9f, \"kl_median\": %.9f, "
                  "\"kl_p99\": %.9f, \"kl_max\": %.9f, "
                  "\"top1_agreement\": %.6f, \"top1_error\": %.6f",
                  baseScore.perplexity(), baseScore.perplexityError(),
                  kl.meanKl(), kl.klError(), kl.klQuantile(0.5),
                  kl.klQuantile(0.99), kl.maxKl(), kl.top1Agreement(),
                  kl.top1Error());
    std::printf("}\n");
  } else {
    std::fprintf(stderr, "\n");
    std::printf("perplexity: %.4f +/- %.4f (%zu chunks of %lld tokens, %zu scored)\n",
                score.perplexity(), score.perplexityError(), chunks, (long long)n,
                score.count());
    if (base)
      printKl(kl, baseScore);
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
  addContextOption(*app, args->context, 4,
                   "Tokens per chunk, >= 4; the second half of each is scored")
      ->capture_default_str();
  addThreadsOption(*app, args->threads);
  app->add_option("--kl-base", args->klBase,
                  "Also compare with this model's logits on the same tokens "
                  "(same vocabulary): mean KL(base || model) and how often the "
                  "top token agrees");
  app->add_flag("--json", args->json, "Print one JSON object");
  app->add_flag("--no-cache", args->noCache, "Compile the kernels afresh");
  return {app, [args]() { return runPerplexity(*args); }};
}

} // namespace kiln::cli
