// kiln-run: runs an AOT artifact (`kiln compile MODEL -o model.kiln`)
// without the compiler. It links the runtime and the frontend pieces
// through kiln's C API (api/kiln.h), never LLVM or MLIR; the flags and
// the --timings JSON are `kiln run`'s.
#include "kiln.h"

#include "CommonFlags.h"
#include "runtime/Sampler.h"
#include "support/TextFile.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln-run: error: %s\n", message.c_str());
  return 1;
}

struct Args {
  std::string model, prompt, promptFile;
  int tokens = 128;
  unsigned threads = 0;
  int context = 0;
  kiln::runtime::SamplerOptions sampling;
  bool seedGiven = false, idsOnly = false, timings = false, parseSpecial = false;
};

int run(Args &args) {
  std::string prompt = args.prompt;
  if (!args.promptFile.empty()) {
    auto text = kiln::readTextFile(args.promptFile, "the prompt file (-f)");
    if (!text)
      return fail(text.error().message);
    prompt = *text;
  }
  if (!args.seedGiven)
    args.sampling.seed = std::random_device{}();

  auto start = Clock::now();
  kiln_model *model = nullptr;
  if (kiln_model_load(args.model.c_str(), args.threads, &model) != KILN_OK)
    return fail(kiln_last_error());
  double load = since(start);
  struct Free {
    kiln_model *m;
    ~Free() { kiln_model_free(m); }
  } freeModel{model};

  size_t count = 0;
  std::vector<int32_t> ids(prompt.size() + 16);
  if (kiln_tokenize(model, prompt.c_str(), args.parseSpecial, ids.data(), ids.size(), &count) !=
      KILN_OK)
    return fail(kiln_last_error());
  ids.resize(count);
  int64_t context = args.context > 0 ? args.context : kiln_context_length(model);
  if (context > kiln_context_length(model))
    return fail("-c " + std::to_string(context) + " exceeds the model's " +
                std::to_string(kiln_context_length(model)) + "-token context");
  if (ids.empty())
    return fail("the prompt is empty (and the model adds no BOS token): nothing to continue");
  if (int64_t(ids.size()) >= context)
    return fail("the prompt has " + std::to_string(ids.size()) + " tokens; it does not fit the " +
                std::to_string(context) + "-token context");
  const int64_t positions = std::min<int64_t>(context, int64_t(ids.size()) + args.tokens);
  kiln_sampling sampling{args.sampling.temperature,   args.sampling.topK,
                         args.sampling.topP,          args.sampling.minP,
                         args.sampling.repeatPenalty, args.sampling.repeatLastN,
                         args.sampling.seed};
  if (kiln_set_sampling(model, &sampling) != KILN_OK)
    return fail(kiln_last_error());
  start = Clock::now();
  if (kiln_start(model, positions) != KILN_OK)
    return fail(kiln_last_error());
  double weights = since(start);

  start = Clock::now();
  const float *logits = nullptr;
  if (kiln_eval(model, ids.data(), ids.size(), &logits) != KILN_OK)
    return fail(kiln_last_error());
  double prefill = since(start);

  auto decodeStart = Clock::now();
  size_t generated = 0;
  int64_t position = int64_t(ids.size());
  std::string idLine;
  std::vector<char> text(256);
  for (int i = 0; i < args.tokens; ++i) {
    int32_t token = 0;
    if (kiln_sample(model, logits, &token) != KILN_OK)
      return fail(kiln_last_error());
    if (i == 0)
      decodeStart = Clock::now();
    if (token == kiln_eos_token(model))
      break;
    ++generated;
    if (args.idsOnly) {
      idLine += (idLine.empty() ? "" : " ") + std::to_string(token);
    } else {
      size_t length = 0;
      kiln_status status = kiln_token_text(model, token, text.data(), text.size(), &length);
      if (status == KILN_ERROR_ARGUMENT && length > text.size()) {
        text.resize(length);
        status = kiln_token_text(model, token, text.data(), text.size(), &length);
      }
      if (status != KILN_OK)
        return fail(kiln_last_error());
      std::fwrite(text.data(), 1, length, stdout);
      std::fflush(stdout);
    }
    if (i + 1 == args.tokens)
      break;
    if (position >= context) {
      std::fprintf(stderr, "\nkiln-run: the %lld-token context is full; stopping\n",
                   static_cast<long long>(context));
      break;
    }
    if (kiln_eval(model, &token, 1, &logits) != KILN_OK)
      return fail(kiln_last_error());
    ++position;
  }
  double decode = since(decodeStart);
  std::printf(args.idsOnly ? "%s\n" : "\n", idLine.c_str());
  std::fflush(stdout);

  size_t decodes = generated > 0 ? generated - 1 : 0;
  double prefillRate = prefill > 0 ? ids.size() / prefill : 0;
  double decodeRate = decode > 0 ? decodes / decode : 0;
  if (args.timings)
    std::fprintf(stderr,
                 "{\"load_s\": %.4f, \"compile_s\": %.4f, \"weights_s\": %.4f, "
                 "\"n_prompt\": %zu, \"prefill_s\": %.4f, \"prefill_tok_s\": %.2f, "
                 "\"n_gen\": %zu, \"decode_s\": %.4f, \"decode_tok_s\": %.2f, "
                 "\"activation_bytes\": %llu, \"target\": \"%s\", \"kernels_cached\": true}\n",
                 load, 0.0, weights, ids.size(), prefill, prefillRate, generated, decode,
                 decodeRate, static_cast<unsigned long long>(kiln_activation_bytes(model)),
                 kiln_target(model));
  else
    std::fprintf(stderr,
                 "\nload %.2f s, weights %.2f s, prefill %zu tokens in %.2f s (%.1f tok/s), "
                 "decode %zu tokens in %.2f s (%.1f tok/s)\n",
                 load, weights, ids.size(), prefill, prefillRate, decodes, decode, decodeRate);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Args args;
  CLI::App app{"kiln-run: run a model compiled ahead of time (kiln compile MODEL.gguf -o "
               "FILE.kiln), without the compiler"};
  app.add_option("artifact", args.model, "The .kiln artifact")->required();
  auto *prompt = app.add_option("-p,--prompt", args.prompt, "Prompt text");
  app.add_option("-f,--file", args.promptFile, "Read the prompt from a file, byte for byte")
      ->excludes(prompt);
  app.add_option("-n,--tokens", args.tokens, "Tokens to generate, >= 0")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  kiln::cli::addThreadsOption(app, args.threads);
  kiln::cli::addContextOption(app, args.context, 1,
                              "Context length, >= 1 (default: the model's)");
  kiln::cli::addSamplingOptions(app, args.sampling);
  app.add_option("--seed", args.sampling.seed, "Random seed (default: random)")
      ->each([&args](const std::string &) { args.seedGiven = true; });
  app.add_flag("--ids", args.idsOnly,
               "Print only the generated token ids, space-separated, on one line");
  app.add_flag("--timings", args.timings, "Report timings as one JSON line on stderr");
  app.add_flag("--parse-special", args.parseSpecial,
               "Recognize special tokens written in the prompt (<s>, <|im_start|>...)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success &e) { // --help
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::fprintf(stderr, "kiln-run: error: %s\n(see 'kiln-run --help')\n", e.what());
    return 2;
  }
  return run(args);
}
