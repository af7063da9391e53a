// `kiln bench MODEL`: how fast the compiled model runs here. Prefill and
// decode tokens/s (median of repeats, with the spread), compile time,
// memory, where the time goes (per kernel kind), and decode as a fraction of
// the roofline set by the machine's measured read bandwidth. With
// --compare-fusion, the same for every fusion configuration, side by side.
#include "Command.h"
#include "CommonFlags.h"
#include "CompileFlags.h"
#include "SvgBarChart.h"

#include "codegen/Compile.h"
#include "eval/ForwardTiming.h"
#include "eval/KernelBreakdown.h"
#include "eval/MemoryBandwidth.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "passes/PassOptions.h"
#include "runtime/Executor.h"
#include "support/AtomicFile.h"
#include "support/SameFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sys/resource.h>
#include <unistd.h>

namespace kiln::cli {

namespace {

using json = nlohmann::ordered_json;

struct BenchArgs {
  CompileFlags compile;
  std::string model;
  int64_t promptTokens = 512;
  int64_t decodeTokens = 128;
  int repeats = 3;
  bool promptGiven = false, decodeGiven = false;
  unsigned threads = 0;
  bool compareFusion = false;
  bool json = false;
  bool noCache = false;
  std::string plot;
};

// One way of compiling the model: a name for tables and the flags it means.
struct Configuration {
  std::string name;
  CompileFlags flags;
};

struct ConfigResult {
  std::string name;
  std::string target, device; // what the kernels ran on
  double compileSeconds = 0;
  eval::ForwardSpeed speed;
  uint64_t activationBytes = 0, kvCacheBytes = 0, weightBytesPerToken = 0;
  std::vector<eval::KernelShare> prefillShares, decodeShares;
};

std::string configurationName(const CompileFlags &flags) {
  if (flags.noFuse)
    return "unfused";
  if (flags.disabledPasses.empty())
    return "fused";
  std::string name = "without ";
  for (size_t i = 0; i < flags.disabledPasses.size(); ++i)
    name += (i ? ", " : "") + flags.disabledPasses[i];
  return name;
}

// --compare-fusion: everything on, everything off, then each fusion pass
// left out of the full pipeline on its own (what that one pass is worth),
// all for the target `base` names.
std::vector<Configuration> fusionConfigurations(const CompileFlags &base) {
  CompileFlags fused;
  fused.target = base.target;
  std::vector<Configuration> configs;
  configs.push_back({"fused", fused});
  CompileFlags unfused = fused;
  unfused.noFuse = true;
  configs.push_back({"unfused", unfused});
  for (const std::string &pass : passes::fusionPassNames()) {
    CompileFlags without = fused;
    without.disabledPasses = {pass};
    configs.push_back({"without " + pass, without});
  }
  return configs;
}

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Progress goes to a terminal only: the run can take minutes, but a
// redirected stderr (scripts, tests) should hold only errors.
void progress(const std::string &message) {
  if (::isatty(STDERR_FILENO))
    std::fprintf(stderr, "\rkiln bench: %-60s", message.c_str());
}
void endProgress() {
  if (::isatty(STDERR_FILENO))
    std::fprintf(stderr, "\r%*s\r", 73, "");
}

eval::ForwardBenchOptions forwardOptions(const BenchArgs &args) {
  eval::ForwardBenchOptions bench;
  bench.promptTokens = args.promptTokens;
  bench.decodeTokens = args.decodeTokens;
  bench.repeats = args.repeats;
  return bench;
}

// A configuration compiled, with its executor, warmed up: every one stays
// ready until all are measured, so their repeats can take turns.
struct PreparedConfig {
  codegen::Program program;
  std::unique_ptr<runtime::Executor> executor;
  ConfigResult result;
};

Result<std::unique_ptr<PreparedConfig>>
prepareConfiguration(const GgufFile &file, const Configuration &config,
                     const BenchArgs &args, runtime::ThreadPool &pool) {
  auto prepared = std::make_unique<PreparedConfig>();
  ConfigResult &result = prepared->result;
  result.name = config.name;
  codegen::CompileOptions options;
  KILN_TRY(applyCompileFlags(config.flags, options));
  if (!args.noCache)
    options.cacheDir = codegen::cpu::defaultCacheDir();

  progress(config.name + ": compiling");
  auto start = Clock::now();
  auto program = codegen::compile(file, options);
  if (!program)
    return std::move(program).takeError();
  result.compileSeconds = secondsSince(start);
  result.target = std::string(program->kernels->targetName());
  result.device = program->kernels->deviceName();
  prepared->program = std::move(*program);

  const runtime::ExecutionPlan &plan = prepared->program.lowered.plan;
  runtime::ExecutorOptions execOptions;
  execOptions.maxBatch = args.promptTokens; // the prompt in one call
  execOptions.contextLength = args.promptTokens + args.decodeTokens;
  auto executor = codegen::makeExecutor(prepared->program, file, pool, execOptions);
  if (!executor)
    return std::move(executor).takeError();
  prepared->executor = std::move(*executor);
  result.activationBytes = prepared->executor->activationBytes();
  result.kvCacheBytes = prepared->executor->kvCacheBytes();
  result.weightBytesPerToken = eval::weightBytesPerToken(plan, file);

  progress(config.name + ": warming up");
  KILN_TRY(eval::warmUp(*prepared->executor, forwardOptions(args)));
  return prepared;
}

// Profiled apart from the timed runs: timing every kernel call costs time
// of its own.
Status profileConfiguration(PreparedConfig &prepared, const BenchArgs &args) {
  progress(prepared.result.name + ": profiling kernels");
  auto profile = eval::profileForward(*prepared.executor, forwardOptions(args));
  if (!profile)
    return std::move(profile).takeError();
  const auto &symbols = prepared.program.lowered.plan.kernelSymbols;
  prepared.result.prefillShares =
      eval::groupByKernelKind(symbols, profile->prefillSeconds, profile->prefillCalls);
  prepared.result.decodeShares =
      eval::groupByKernelKind(symbols, profile->decodeSeconds, profile->decodeCalls);
  return Status::success();
}

uint64_t peakResidentBytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return uint64_t(usage.ru_maxrss) * 1024; // Linux reports KiB
}

// What the whole run measured: one result per configuration (the first is
// the one without --compare-fusion), and the machine.
struct BenchReport {
  std::vector<ConfigResult> configs;
  uint64_t peakRss = 0;
  double bandwidth = 0; // bytes/s
  unsigned threads = 0;
};

const ConfigResult *findConfig(const BenchReport &report, const std::string &name) {
  for (const ConfigResult &config : report.configs)
    if (config.name == name)
      return &config;
  return nullptr;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

// Decode tok/s the bandwidth allows when every weight is read once a token.
double rooflineTokS(const ConfigResult &config, double bandwidth) {
  return ratio(bandwidth, double(config.weightBytesPerToken));
}

// --- JSON -----------------------------------------------------------------

json sharesJson(const std::vector<eval::KernelShare> &shares) {
  json list = json::array();
  for (const eval::KernelShare &share : shares)
    list.push_back({{"kernel", share.kind},
                    {"seconds", share.seconds},
                    {"calls", share.calls},
                    {"percent", 100 * share.fraction}});
  return list;
}

json configJson(const ConfigResult &config, const BenchReport &report) {
  const eval::ForwardSpeed &s = config.speed;
  json out = {{"prefill_tok_s", s.prefill.median},
              {"prefill_tok_s_min", s.prefill.min},
              {"prefill_tok_s_max", s.prefill.max},
              {"prefill_tok_s_runs", s.prefillRates},
              {"decode_tok_s", s.decode.median},
              {"decode_tok_s_min", s.decode.min},
              {"decode_tok_s_max", s.decode.max},
              {"decode_tok_s_runs", s.decodeRates},
              {"compile_s", config.compileSeconds},
              {"activation_bytes", config.activationBytes},
              {"kv_cache_bytes", config.kvCacheBytes},
              {"weight_bytes_per_token", config.weightBytesPerToken},
              {"decode_roofline_tok_s", rooflineTokS(config, report.bandwidth)},
              {"roofline_fraction",
               ratio(s.decode.median, rooflineTokS(config, report.bandwidth))}};
  out["breakdown"] = {{"prefill", sharesJson(config.prefillShares)},
                      {"decode", sharesJson(config.decodeShares)}};
  return out;
}

json reportJson(const BenchArgs &args, const BenchReport &report) {
  json out = {{"model", args.model},
              {"target", report.configs.front().target},
              {"device", report.configs.front().device},
              {"threads", report.threads},
              {"prompt_tokens", args.promptTokens},
              {"decode_tokens", args.decodeTokens},
              {"repeats", args.repeats},
              {"peak_rss_bytes", report.peakRss},
              {"read_bandwidth_gb_s", report.bandwidth / 1e9}};
  if (!args.compareFusion) {
    out["configuration"] = report.configs.front().name;
    out.update(configJson(report.configs.front(), report));
    return out;
  }
  const ConfigResult &unfused = *findConfig(report, "unfused");
  auto withRatios = [&](const ConfigResult &config) {
    json object = configJson(config, report);
    object["prefill_vs_unfused"] =
        ratio(config.speed.prefill.median, unfused.speed.prefill.median);
    object["decode_vs_unfused"] =
        ratio(config.speed.decode.median, unfused.speed.decode.median);
    return object;
  };
  const ConfigResult &fused = *findConfig(report, "fused");
  out["fused"] = withRatios(fused);
  out["unfused"] = withRatios(unfused);
  json passes = json::object();
  for (const std::string &pass : passes::fusionPassNames())
    if (const ConfigResult *without = findConfig(report, "without " + pass)) {
      json object = withRatios(*without);
      // What the pass is worth: the full pipeline against it without this pass.
      object["fused_prefill_vs_without"] =
          ratio(fused.speed.prefill.median, without->speed.prefill.median);
      object["fused_decode_vs_without"] =
          ratio(fused.speed.decode.median, without->speed.decode.median);
      passes[pass] = object;
    }
  out["passes"] = passes;
  out["ratios"] = {{"prefill_fused_vs_unfused",
                    ratio(fused.speed.prefill.median, unfused.speed.prefill.median)},
                   {"decode_fused_vs_unfused",
                    ratio(fused.speed.decode.median, unfused.speed.decode.median)}};
  return out;
}

// --- Tables ---------------------------------------------------------------

std::string format(const char *pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string mib(uint64_t bytes) { return format("%.1f MiB", bytes / 1048576.0); }

std::string rateCell(const eval::RateSummary &rate) {
  return format("%.1f", rate.median) + " (" + format("%.1f", rate.min) + "-" +
         format("%.1f", rate.max) + ")";
}

// Left-aligns the first column and right-aligns the others.
void printTable(const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> widths;
  for (const auto &row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      widths.resize(std::max(widths.size(), row.size()));
      widths[c] = std::max(widths[c], row[c].size());
    }
  for (const auto &row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string pad(widths[c] - row[c].size(), ' ');
      line += c == 0 ? row[c] + pad : "   " + pad + row[c];
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string percentOf(const std::vector<eval::KernelShare> &shares,
                      const std::string &kind) {
  for (const eval::KernelShare &share : shares)
    if (share.kind == kind)
      return format("%.1f %%", 100 * share.fraction);
  return "-";
}

// Kernel kinds in rows, one prefill and one decode column per configuration.
void printBreakdown(const std::vector<const ConfigResult *> &configs) {
  std::vector<std::string> kinds;
  for (const ConfigResult *config : configs)
    for (const auto *shares : {&config->prefillShares, &config->decodeShares})
      for (const eval::KernelShare &share : *shares)
        if (std::find(kinds.begin(), kinds.end(), share.kind) == kinds.end())
          kinds.push_back(share.kind);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"where the time goes"};
  for (const ConfigResult *config : configs) {
    std::string suffix = configs.size() > 1 ? " " + config->name : "";
    header.push_back("prefill" + suffix);
    header.push_back("decode" + suffix);
  }
  rows.push_back(header);
  for (const std::string &kind : kinds) {
    std::vector<std::string> row = {"  " + kind};
    for (const ConfigResult *config : configs) {
      row.push_back(percentOf(config->prefillShares, kind));
      row.push_back(percentOf(config->decodeShares, kind));
    }
    rows.push_back(row);
  }
  printTable(rows);
}

void printMachine(const ConfigResult &config, const BenchReport &report) {
  double roofline = rooflineTokS(config, report.bandwidth);
  std::printf("memory      peak RSS %s; activation arena %s; KV cache %s\n",
              mib(report.peakRss).c_str(), mib(config.activationBytes).c_str(),
              mib(config.kvCacheBytes).c_str());
  std::printf("bandwidth   %.1f GB/s read (%u threads); weights %s read per token\n",
              report.bandwidth / 1e9, report.threads,
              mib(config.weightBytesPerToken).c_str());
  std::printf("roofline    decode ceiling %.1f tok/s; %s reached %.1f %%\n", roofline,
              config.name.c_str(), 100 * ratio(config.speed.decode.median, roofline));
}

void printReport(const BenchArgs &args, const BenchReport &report) {
  std::printf("kiln bench %s: %u threads, %lld-token prompt, %lld decodes, %d repeats\n\n",
              args.model.c_str(), report.threads, (long long)args.promptTokens,
              (long long)args.decodeTokens, args.repeats);
  const ConfigResult &first = report.configs.front();
  std::printf("target      %s: %s\n\n", first.target.c_str(), first.device.c_str());
  if (!args.compareFusion) {
    printTable({{first.name, "tok/s", "min-max"},
                {"prefill", format("%.1f", first.speed.prefill.median),
                 format("%.1f", first.speed.prefill.min) + "-" +
                     format("%.1f", first.speed.prefill.max)},
                {"decode", format("%.1f", first.speed.decode.median),
                 format("%.1f", first.speed.decode.min) + "-" +
                     format("%.1f", first.speed.decode.max)}});
    std::printf("\ncompile     %.2f s%s\n", first.compileSeconds,
                args.noCache ? "" : " (kernel cache on; --no-cache for a cold compile)");
    printMachine(first, report);
    std::printf("\n");
    printBreakdown({&first});
    return;
  }
  const ConfigResult &unfused = *findConfig(report, "unfused");
  std::vector<std::vector<std::string>> rows = {
      {"configuration", "prefill tok/s (min-max)", "decode tok/s (min-max)",
       "prefill/unfused", "decode/unfused", "compile s"}};
  for (const ConfigResult &config : report.configs)
    rows.push_back(
        {config.name, rateCell(config.speed.prefill), rateCell(config.speed.decode),
         format("%.2fx", ratio(config.speed.prefill.median, unfused.speed.prefill.median)),
         format("%.2fx", ratio(config.speed.decode.median, unfused.speed.decode.median)),
         format("%.2f", config.compileSeconds)});
  printTable(rows);
  std::printf("\n");
  printMachine(first, report);
  std::printf("\n");
  printBreakdown({&first, &unfused});
}

chart::BarChart reportChart(const BenchArgs &args, const BenchReport &report) {
  chart::BarChart bars;
  bars.title = "kiln bench " + std::filesystem::path(args.model).filename().string() + ": " +
               std::to_string(args.promptTokens) + "-token prompt, " +
               std::to_string(args.decodeTokens) + " decodes, " +
               std::to_string(report.threads) + " threads";
  bars.valueLabel = "tokens/s (median)";
  chart::BarSeries prefill{"prefill", {}}, decode{"decode", {}};
  for (const ConfigResult &config : report.configs) {
    bars.groups.push_back(config.name);
    prefill.values.push_back(config.speed.prefill.median);
    decode.values.push_back(config.speed.decode.median);
  }
  bars.series = {prefill, decode};
  return bars;
}

// --- The command ----------------------------------------------------------

// The chart file is created (as a temporary beside it) before the long run,
// so an unwritable path fails at once; it is renamed into place at the end.
Result<std::optional<AtomicFile>> openPlot(const std::string &path,
                                           const std::string &model) {
  if (path.empty())
    return std::optional<AtomicFile>();
  if (Status distinct = checkNotInput(path, model); !distinct)
    return makeError("--plot ", distinct.message());
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return makeError("--plot ", path, ": is a directory");
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (extension != ".svg")
    return makeError("--plot ", path, ": kiln writes SVG charts only; name the file "
                     ".svg (rsvg-convert or a browser turns it into a PNG)");
  auto file = AtomicFile::create(path);
  if (!file)
    return makeError("--plot ", file.error().message);
  return std::optional<AtomicFile>(std::move(*file));
}

Status checkArgs(const BenchArgs &args) {
  if (args.promptTokens < 1)
    return makeError("-p ", std::to_string(args.promptTokens),
                     ": the prompt needs at least 1 token");
  if (args.decodeTokens < 1)
    return makeError("-n ", std::to_string(args.decodeTokens),
                     ": at least 1 token must be decoded");
  if (args.repeats < 1)
    return makeError("-r ", std::to_string(args.repeats), ": at least 1 repeat");
  if (args.compareFusion && (args.compile.noFuse || !args.compile.disabledPasses.empty()))
    return makeError("--compare-fusion chooses the passes of each configuration "
                     "itself; leave out --no-fuse and --disable-pass");
  return Status::success();
}

// The prompt and the decodes must fit the model's context. Defaults the user
// did not ask for shrink to fit (a small model's context is often under 640
// tokens); numbers the user gave are checked as given.
Status fitContext(BenchArgs &args, int64_t context) {
  int64_t p = args.promptTokens, n = args.decodeTokens;
  if (p + n > context && !args.promptGiven && !args.decodeGiven) {
    n = std::min<int64_t>(n, std::max<int64_t>(context / 4, 1));
    p = context - n;
  } else if (p + n > context && !args.decodeGiven) {
    n = context - p;
  } else if (p + n > context && !args.promptGiven) {
    p = context - n;
  }
  if (p < 1 || n < 1 || p + n > context)
    return makeError("-p ", std::to_string(args.promptTokens), " and -n ",
                     std::to_string(args.decodeTokens), ": ",
                     std::to_string(args.promptTokens + args.decodeTokens),
                     " tokens do not fit ", args.model, "'s ", std::to_string(context),
                     "-token context");
  if (p != args.promptTokens || n != args.decodeTokens)
    std::fprintf(stderr, "kiln bench: -p %lld -n %lld, to fit the %lld-token context\n",
                 (long long)p, (long long)n, (long long)context);
  args.promptTokens = p;
  args.decodeTokens = n;
  return Status::success();
}

int runBench(BenchArgs args) {
  if (Status s = checkArgs(args); !s.ok())
    return reportError(s.message());
  // Names are checked before the model is even opened.
  codegen::CompileOptions checked;
  if (Status s = applyCompileFlags(args.compile, checked); !s.ok())
    return reportError(s.message());
  auto plot = openPlot(args.plot, args.model);
  if (!plot)
    return reportError(plot.error().message);

  auto file = openModelToCompile(args.compile, args.model);
  if (!file)
    return reportError(file.error().message);
  auto spec = ModelSpec::fromGguf(*file);
  if (!spec)
    return reportError(spec.error().message);
  if (Status s = fitContext(args, spec->contextLength); !s.ok())
    return reportError(s.message());

  std::vector<Configuration> configs;
  if (args.compareFusion)
    configs = fusionConfigurations(args.compile);
  else
    configs.push_back({configurationName(args.compile), args.compile});

  runtime::ThreadPool pool(args.threads);
  BenchReport report;
  report.threads = pool.size();
  std::vector<std::unique_ptr<PreparedConfig>> prepared;
  auto fail = [](const std::string &name, const std::string &message) {
    endProgress();
    return reportError(name + ": " + message);
  };
  for (const Configuration &config : configs) {
    auto ready = prepareConfiguration(*file, config, args, pool);
    if (!ready)
      return fail(config.name, ready.error().message);
    prepared.push_back(std::move(*ready));
  }
  // Repeat by repeat, every configuration in turn: a change in the machine's
  // load (other jobs, clock speed) then shows in every configuration's
  // spread instead of favouring the ones measured in a quiet moment.
  for (int r = 0; r < args.repeats; ++r)
    for (auto &config : prepared) {
      progress(config->result.name + ": repeat " + std::to_string(r + 1) + " of " +
               std::to_string(args.repeats));
      auto rates = eval::timeForwardOnce(*config->executor, forwardOptions(args));
      if (!rates)
        return fail(config->result.name, rates.error().message);
      config->result.speed.add(*rates);
    }
  for (auto &config : prepared) {
    if (Status s = profileConfiguration(*config, args); !s.ok())
      return fail(config->result.name, s.message());
    report.configs.push_back(config->result);
  }
  // Before the probe, whose buffer would otherwise be the peak.
  report.peakRss = peakResidentBytes();
  progress("measuring memory bandwidth");
  report.bandwidth = eval::measureReadBandwidth(pool);
  endProgress();

  if (*plot) {
    if (Status s = chart::writeSvg(reportChart(args, report), **plot); !s.ok())
      return reportError("--plot " + s.message());
  }
  if (args.json)
    std::printf("%s\n", reportJson(args, report).dump(2).c_str());
  else
    printReport(args, report);
  return 0;
}

} // namespace

Command addBenchCommand(CLI::App &parent) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App *app = parent.add_subcommand(
      "bench", "Measure prefill and decode speed, memory, kernel time and the "
               "decode roofline of a model compiled for this CPU");
  app->add_option("model", args->model, "GGUF file")->required()->type_name("MODEL");
  addCompileFlags(*app, args->compile);
  app->add_option("-p,--prompt-tokens", args->promptTokens,
                  "Prompt tokens to prefill, >= 1 (the default shrinks to fit the context)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()))
      ->each([args](const std::string &) { args->promptGiven = true; });
  app->add_option("-n,--decode-tokens", args->decodeTokens,
                  "Tokens to decode after the prompt, >= 1")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()))
      ->each([args](const std::string &) { args->decodeGiven = true; });
  addThreadsOption(*app, args->threads);
  app->add_option("-r,--repeats", args->repeats,
                  "Timed runs, 1 to 1000; the median and the spread are reported")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app->add_flag("--compare-fusion", args->compareFusion,
                "Measure all fusions on, all off, and each fusion pass left out");
  app->add_flag("--json", args->json, "Print one JSON object instead of tables");
  app->add_option("--plot", args->plot,
                  "Write a bar chart of tok/s per configuration (.svg)")
      ->type_name("FILE.svg");
  app->add_flag("--no-cache", args->noCache,
                "Compile the kernels afresh (the compile time is then a cold one)");
  return {app, [args]() { return runBench(*args); }};
}

} // namespace kiln::cli
