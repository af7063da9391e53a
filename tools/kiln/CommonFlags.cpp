#include "CommonFlags.h"

#include "runtime/Sampler.h"

#include <cmath>
#include <limits>
#include <string>

namespace kiln::cli {

// CLI::Range prints float bounds in full ("0.000000 to 3402823...") and lets
// "nan" through; this says the rule in words and refuses non-finite values.
CLI::Validator finiteNumber(double minimum, bool minimumAllowed, double maximum,
                            const std::string &rule) {
  return CLI::Validator(
      [=](std::string &text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value))
          return "Value " + text + " is not a number";
        bool low = minimumAllowed ? value < minimum : value <= minimum;
        if (!std::isfinite(value) || low || value > maximum)
          return "Value " + text + " must be " + rule;
        return "";
      },
      rule);
}

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
      ->check(finiteNumber(0.0f, true, kFloatMax, ">= 0"));
  app.add_option("--top-k", sampling.topK, "Top-k, >= 0 (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, std::numeric_limits<int>::max()));
  app.add_option("--top-p", sampling.topP, "Top-p, in [0, 1] (1: off)")
      ->capture_default_str()
      ->check(finiteNumber(0.0f, true, 1.0f, "in [0, 1]"));
  app.add_option("--min-p", sampling.minP, "Min-p, in [0, 1] (0: off)")
      ->capture_default_str()
      ->check(finiteNumber(0.0f, true, 1.0f, "in [0, 1]"));
  app.add_option("--repeat-penalty", sampling.repeatPenalty,
                 "Repetition penalty, > 0 (1: off)")
      ->capture_default_str()
      ->check(finiteNumber(0.0f, false, kFloatMax, "> 0"));
  app.add_option("--repeat-last-n", sampling.repeatLastN,
                 "Tokens the penalty looks back at, 0 to " +
                     std::to_string(runtime::Sampler::kMaxRepeatLastN))
      ->capture_default_str()
      ->check(CLI::Range(0, runtime::Sampler::kMaxRepeatLastN));
}

} // namespace kiln::cli
