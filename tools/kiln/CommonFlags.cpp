#include "CommonFlags.h"

#include "runtime/Sampler.h"

#include <limits>
#include <string>

namespace kiln::cli {

CLI::Option *addThreadsOption(CLI::App &app, unsigned &threads) {
  return app
      .add_option("-t,--threads", threads,
                  "Threads, 1 to " + std::to_string(kMaxThreads) +
                      " (default: all cores)")
      ->check(CLI::Range(1u, kMaxThreads));
}

CLI::Option *addContextOption(CLI::App &app, int &context, int minimum,
                              const std::string &help) {
  return app.add_option("-c,--context", context, help)
      ->check(CLI::Range(minimum, std::numeric_limits<int>::max()));
}

void addSamplingOptions(CLI::App &app, runtime::SamplerOptions &sampling) {
  constexpr float kFloatMax = std::numeric_limits<float>::max();
  app.add_option("--temp", sampling.temperature, "Temperature, >= 0; 0 is greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, kFloatMax));
  app.add_option("--top-k", sampling.topK, "Top-k, >= 0 (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  app.add_option("--top-p", sampling.topP, "Top-p, in [0, 1] (1: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--min-p", sampling.minP, "Min-p, in [0, 1] (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--repeat-penalty", sampling.repeatPenalty,
                 "Repetition penalty, > 0 (1: off)")
      ->capture_default_str()
      ->check(CLI::Range(std::numeric_limits<float>::min(), kFloatMax));
  app.add_option("--repeat-last-n", sampling.repeatLastN,
                 "Tokens the penalty looks back at, 0 to " +
                     std::to_string(runtime::Sampler::kMaxRepeatLastN))
      ->capture_default_str()
      ->check(CLI::Range(0, runtime::Sampler::kMaxRepeatLastN));
}

} // namespace kiln::cli
