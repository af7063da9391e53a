// `kiln run [MODEL] -p PROMPT`: compile the model for this CPU in process
// (JIT), then generate: prefill the prompt, sample, decode token by token,
// streaming the text as it comes.
#include "Command.h"
#include "CommonFlags.h"
#include "CompileFlags.h"

#include "codegen/Compile.h"
#include "gguf/GgufFile.h"
#include "runtime/Executor.h"
#include "runtime/FiniteCheck.h"
#include "runtime/artifact/LoadedArtifact.h"
#include "runtime/SystemMemory.h"
#include "runtime/Sampler.h"
#include "support/TextFile.h"
#include "tokenizer/StreamDecoder.h"
#include "tokenizer/Tokenizer.h"

#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <unistd.h>

namespace kiln::cli {

namespace {

struct RunArgs {
  CompileFlags compile;
  std::string model;
  std::string prompt;
  std::string promptFile;
  int tokens = 128;
  unsigned threads = 0;
  int context = 0;
  int batch = 256;
  runtime::SamplerOptions sampling;
  bool seedGiven = false;
  bool idsOnly = false;
  bool timings = false;
  bool printIr = false;
  bool parseSpecial = false;
  bool noCache = false;
  std::string dumpSteps;
};

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --dump-steps DIR: each kernel call's activation output as raw float32,
// DIR/CALL-ENTRY-STEP-LABEL.bin (CALL counts prefill/decode calls), for
// comparing intermediates with another implementation (see
// scripts/reference/llama_logits.cpp). Files that cannot be written are
// reported once and skipped.
void dumpSteps(runtime::Executor &executor, const runtime::ExecutionPlan &plan,
               const std::string &dir) {
  auto calls = std::make_shared<int>(-1);
  auto warned = std::make_shared<bool>(false);
  executor.setStepObserver([&executor, &plan, dir, calls, warned](
                               bool decode, size_t index, void *const *args, int64_t rows) {
    const runtime::EntryPoint &entry = decode ? plan.decode : plan.prefill;
    if (index == 0)
      ++*calls;
    const runtime::Step &step = entry.steps[index];
    const runtime::Slot &out = step.args.back();
    if (out.kind != runtime::SlotKind::Activation)
      return;
    const runtime::ActivationBuffer &buffer = plan.buffers[out.index];
    std::string path = dir + "/" + std::to_string(*calls) + "-" +
                       (decode ? "decode" : "prefill") + "-" + std::to_string(index) +
                       "-" + step.label + ".bin";
    const uint64_t bytes =
        uint64_t(buffer.singleRow ? 1 : rows) * buffer.cols * buffer.elementBytes;
    const void *view = executor.hostView(args[step.args.size() - 1], bytes);
    if (!view) {
      if (!*warned)
        std::cerr << "kiln: warning: cannot read step " << index << " back from the device\n";
      *warned = true;
      return;
    }
    std::ofstream file(path, std::ios::binary);
    file.write(static_cast<const char *>(view), std::streamsize(bytes));
    if (!file && !*warned) {
      std::cerr << "kiln: warning: cannot write " << path << "\n";
      *warned = true;
    }
  });
}

// The bundled model, found next to the build tree or at the source path.
std::string defaultModel() {
  if (const char *env = std::getenv("KILN_DEFAULT_MODEL"))
    return env;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir = dir.substr(0, dir.rfind('/'));
    std::string candidate = dir + "/../../models/tinyshakes-llama-q8_0.gguf";
    if (std::ifstream(candidate))
      return candidate;
  }
  return KILN_SOURCE_DIR "/models/tinyshakes-llama-q8_0.gguf";
}

Result<std::string> readPrompt(const RunArgs &args) {
  if (args.promptFile.empty())
    return args.prompt;
  return readTextFile(args.promptFile, "the prompt file (-f)");
}

struct Timings {
  // weights: the executor's start (weights onto the device, any layout
  // change of them, arena and KV cache).
  double load = 0, compile = 0, weights = 0, prefill = 0, decode = 0;
  size_t promptTokens = 0, generated = 0;
  uint64_t activationBytes = 0; // the executor's activation arena
  std::string target = "cpu";
  bool kernelsCached = false;   // the kernels came from the cache
};

void reportTimings(const Timings &t, bool json) {
  double prefillRate = t.prefill > 0 ? t.promptTokens / t.prefill : 0;
  // The first generated token comes from the prefill; the rest are decodes.
  size_t decodes = t.generated > 0 ? t.generated - 1 : 0;
  double decodeRate = t.decode > 0 ? decodes / t.decode : 0;
  if (json) {
    std::fprintf(stderr,
                 "{\"load_s\": %.4f, \"compile_s\": %.4f, \"weights_s\": %.4f, "
                 "\"n_prompt\": %zu, "
                 "\"prefill_s\": %.4f, \"prefill_tok_s\": %.2f, \"n_gen\": %zu, "
                 "\"decode_s\": %.4f, \"decode_tok_s\": %.2f, "
                 "\"activation_bytes\": %llu, \"target\": \"%s\", "
                 "\"kernels_cached\": %s}\n",
                 t.load, t.compile, t.weights, t.promptTokens, t.prefill, prefillRate,
                 t.generated, t.decode, decodeRate,
                 static_cast<unsigned long long>(t.activationBytes), t.target.c_str(),
                 t.kernelsCached ? "true" : "false");
    return;
  }
  std::fprintf(stderr,
               "\nload %.2f s, compile %.2f s, weights %.2f s, prefill %zu tokens in %.2f s "
               "(%.1f tok/s), decode %zu tokens in %.2f s (%.1f tok/s)\n",
               t.load, t.compile, t.weights, t.promptTokens, t.prefill, prefillRate,
               decodes, t.decode, decodeRate);
}

// A KV cache the machine cannot hold is refused before it is allocated,
// with the context that would fit.
Status checkKvCacheFits(const runtime::ExecutionPlan &plan, int64_t positions,
                        const std::string &model) {
  // The executor refuses such a cache too; this says it in -c and -n.
  uint64_t fit = runtime::Executor::kvPositionsThatFit(plan, 0);
  if (uint64_t(positions) <= fit)
    return Status::success();
  uint64_t perPosition = runtime::Executor::kvBytesPerPosition(plan);
  return makeError(model, ": the KV cache for ", std::to_string(positions),
                   " positions (prompt + -n) needs ",
                   runtime::gibText(static_cast<long double>(perPosition) * positions),
                   ", more than this machine's ",
                   runtime::gibText(runtime::physicalMemoryBytes()), "; ask for at most ",
                   std::to_string(fit), " positions (-c or -n)");
}

int runModel(RunArgs args) {
  if (args.model.empty())
    args.model = defaultModel();
  if (!args.seedGiven)
    args.sampling.seed = std::random_device{}();
  auto prompt = readPrompt(args);
  if (!prompt)
    return reportError(prompt.error().message);

  Timings timings;
  auto start = Clock::now();
  // A GGUF is compiled now; an artifact (kiln compile -o) was compiled
  // before, with its options: only its code is loaded.
  const bool artifactModel = runtime::artifact::looksLikeArtifact(args.model);
  std::optional<GgufFile> compiledFile;
  std::optional<codegen::Program> program;
  std::optional<runtime::artifact::LoadedArtifact> loaded;
  const GgufFile *file = nullptr;
  if (artifactModel) {
    if (args.compile.noFuse || !args.compile.disabledPasses.empty() ||
        !args.compile.precision.empty() || !args.compile.numerics.empty() || args.printIr)
      return reportError(args.model + ": an artifact runs as it was compiled: --no-fuse, "
                         "--disable-pass, --precision, --numerics and --print-ir apply to "
                         "kiln compile, not to running its artifact");
    auto artifact = runtime::artifact::loadArtifact(
        args.model, args.noCache ? std::string() : codegen::cpu::defaultCacheDir());
    if (!artifact)
      return reportError(artifact.error().message);
    loaded = std::move(artifact).value();
    const std::string &target = loaded->artifact.meta[runtime::artifact::meta::kTarget];
    // --target defaults to cpu: only another name that disagrees is an error.
    if (args.compile.target != "cpu" && args.compile.target != target)
      return reportError(args.model + ": compiled for --target " + target + ", not " +
                         args.compile.target + ": compile it again for that target");
    file = loaded->metadata.get();
  } else {
    auto opened = openModelToCompile(args.compile, args.model);
    if (!opened)
      return reportError(opened.error().message);
    compiledFile = std::move(opened).value();
    file = &*compiledFile;
  }
  auto tokenizer = Tokenizer::fromMetadata(file->metadata());
  if (!tokenizer)
    return reportError(tokenizer.error().message);
  timings.load = secondsSince(start);

  start = Clock::now();
  if (!artifactModel) {
    codegen::CompileOptions options;
    if (Status s = applyCompileFlags(args.compile, options); !s.ok())
      return reportError(s.message());
    if (args.printIr)
      options.printIrTo = "-";
    if (!args.noCache)
      options.cacheDir = codegen::cpu::defaultCacheDir();
    auto compiled = codegen::compile(*file, options);
    if (!compiled)
      return reportError(compiled.error().message);
    program = std::move(compiled).value();
  }
  timings.compile = secondsSince(start);
  timings.target = artifactModel ? loaded->artifact.meta[runtime::artifact::meta::kTarget]
                                 : std::string(program->kernels->targetName());
  timings.kernelsCached = artifactModel || program->kernels->cacheHit();
  const runtime::ExecutionPlan &plan =
      artifactModel ? loaded->artifact.plan : program->lowered.plan;

  int64_t modelContext = artifactModel ? plan.contextLength : program->spec.contextLength;
  int64_t context = args.context > 0 ? args.context : modelContext;
  if (context > modelContext)
    return reportError("-c " + std::to_string(context) + " exceeds the model's " +
                       std::to_string(modelContext) + "-token context");

  EncodeOptions encode;
  encode.parseSpecial = args.parseSpecial;
  auto ids = tokenizer->encode(*prompt, encode);
  if (!ids)
    return reportError(ids.error().message);
  if (ids->empty())
    return reportError("the prompt is empty (and the model adds no BOS "
                       "token): nothing to continue");
  if (int64_t(ids->size()) >= context)
    return reportError("the prompt has " + std::to_string(ids->size()) +
                       " tokens; it does not fit the " +
                       std::to_string(context) + "-token context");

  // The KV cache holds what this run can reach (the prompt and -n tokens),
  // not the whole context a model declares (which may be millions).
  const int64_t positions = std::min<int64_t>(context, int64_t(ids->size()) + args.tokens);
  if (Status s = checkKvCacheFits(plan, positions, args.model); !s)
    return reportError(s.message());
  runtime::ThreadPool pool(args.threads);
  runtime::ExecutorOptions execOptions;
  execOptions.contextLength = positions;
  execOptions.maxBatch = std::min<int64_t>(args.batch, positions);
  start = Clock::now();
  auto executor = artifactModel
                      ? loaded->makeExecutor(pool, execOptions)
                      : codegen::makeExecutor(*program, *file, pool, execOptions);
  if (!executor)
    return reportError(executor.error().message);
  timings.weights = secondsSince(start);
  timings.activationBytes = (*executor)->activationBytes();
  if (!args.dumpSteps.empty())
    dumpSteps(**executor, plan, args.dumpSteps);
  auto sampler = runtime::Sampler::create(args.sampling,
                                          artifactModel ? plan.vocabSize : program->spec.vocabSize);
  if (!sampler)
    return reportError(sampler.error().message);

  // Prefill, in batches.
  start = Clock::now();
  std::span<const int32_t> all(*ids);
  Result<std::span<const float>> logits = makeError("no prompt");
  for (size_t done = 0; done < all.size();) {
    size_t count = std::min<size_t>(all.size() - done, execOptions.maxBatch);
    logits = (*executor)->prefill(all.subspan(done, count), int64_t(done));
    if (!logits)
      return reportError(logits.error().message);
    if (Status s = runtime::checkLogitsFinite(**executor, plan, *logits, args.model,
                               "prompt tokens " + std::to_string(done) + ".." +
                                   std::to_string(done + count - 1),
                               [&] { (void)(*executor)->prefill(all.subspan(done, count),
                                                                int64_t(done)); });
        !s)
      return reportError(s.message());
    done += count;
  }
  for (int32_t id : all)
    sampler->accept(id);
  timings.prefill = secondsSince(start);
  timings.promptTokens = all.size();

  // Generate.
  start = Clock::now();
  auto decodeStart = start;
  // Pieces are printed as they are: a leading space of the continuation is
  // part of the text.
  DecodeOptions decodeOptions;
  decodeOptions.stripLeadingSpace = false;
  StreamDecoder decoder(tokenizer->detokenizer(), decodeOptions);
  TokenId endOfText = tokenizer->vocabulary().eos();
  int64_t position = int64_t(all.size());
  std::string idLine;
  for (int i = 0; i < args.tokens; ++i) {
    int32_t token = sampler->sample(*logits);
    if (i == 0)
      decodeStart = Clock::now();
    if (token == endOfText)
      break;
    ++timings.generated;
    sampler->accept(token);
    if (args.idsOnly) {
      idLine += (idLine.empty() ? "" : " ") + std::to_string(token);
    } else {
      auto text = decoder.push(token);
      if (!text)
        return reportError(text.error().message);
      std::fwrite(text->data(), 1, text->size(), stdout);
      std::fflush(stdout);
    }
    if (i + 1 == args.tokens)
      break;
    if (position >= context) {
      std::fprintf(stderr, "\nkiln: the %lld-token context is full; stopping\n",
                   static_cast<long long>(context));
      break;
    }
    logits = (*executor)->decode(token, position);
    if (!logits)
      return reportError(logits.error().message);
    if (Status s = runtime::checkLogitsFinite(**executor, plan, *logits, args.model,
                               "the token at position " + std::to_string(position),
                               [&] { (void)(*executor)->decode(token, position); });
        !s)
      return reportError(s.message());
    ++position;
  }
  timings.decode = secondsSince(decodeStart);
  if (args.idsOnly) {
    std::printf("%s\n", idLine.c_str());
  } else {
    std::string rest = decoder.finish();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::printf("\n");
  }
  std::fflush(stdout);
  reportTimings(timings, args.timings);
  return 0;
}

} // namespace

Command addRunCommand(CLI::App &parent) {
  auto args = std::make_shared<RunArgs>();
  CLI::App *app = parent.add_subcommand(
      "run", "Compile a GGUF model for this CPU and generate text from a "
             "prompt");
  app->add_option("model", args->model,
                  "GGUF file (default: the bundled tinyshakes-llama-q8_0)");
  addCompileFlags(*app, args->compile);
  auto *prompt = app->add_option("-p,--prompt", args->prompt, "Prompt text");
  app->add_option("-f,--file", args->promptFile,
                  "Read the prompt from a file, byte for byte")
      ->excludes(prompt);
  app->add_option("-n,--tokens", args->tokens, "Tokens to generate, >= 0")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  addThreadsOption(*app, args->threads);
  addContextOption(*app, args->context, 1,
                   "Context length, >= 1 (default: the model's)");
  app->add_option("-b,--batch", args->batch, "Prompt tokens per prefill call, >= 1")
      ->capture_default_str()
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  addSamplingOptions(*app, args->sampling);
  app->add_option("--seed", args->sampling.seed, "Random seed (default: random)")
      ->each([args](const std::string &) { args->seedGiven = true; });
  app->add_flag("--ids", args->idsOnly,
                "Print only the generated token ids, space-separated, on one line");
  app->add_flag("--timings", args->timings,
                "Report timings as one JSON line on stderr");
  app->add_flag("--no-cache", args->noCache,
                "Compile from scratch; do not read or write the kernel cache "
                "(~/.cache/kiln, or $KILN_CACHE_DIR)");
  app->add_flag("--parse-special", args->parseSpecial,
                "Recognize special tokens written in the prompt (<s>, "
                "<|im_start|>...)");
  app->add_option("--dump-steps", args->dumpSteps,
                  "Write every kernel call's output to this folder (raw float32)")
      ->check(CLI::ExistingDirectory);
  app->add_flag("--print-ir", args->printIr,
                "Print the kiln graph (MLIR) before compiling it");
  return {app, [args]() { return runModel(*args); }};
}

} // namespace kiln::cli
