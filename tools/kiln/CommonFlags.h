// Flags several commands share, each declared once with the range it
// accepts, so a value outside it is a usage error (exit 2) that names the
// flag and the range rather than a silent default or a crash.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace kiln::runtime {
struct SamplerOptions;
}

namespace kiln::cli {

// Far more threads than any machine kiln runs on has cores, and few enough
// that creating them cannot exhaust memory.
inline constexpr unsigned kMaxThreads = 1024;

// A finite number in [minimum, maximum] ((minimum, maximum] when
// minimumAllowed is false); `rule` says the range in the error, e.g. "> 0".
CLI::Validator finiteNumber(double minimum, bool minimumAllowed, double maximum,
                            const std::string &rule);

// -t/--threads in [1, kMaxThreads]; left unset (0) it means all cores.
CLI::Option *addThreadsOption(CLI::App &app, unsigned &threads);

// -c/--context in [minimum, 2^31): a context length the user asks for.
CLI::Option *addContextOption(CLI::App &app, int &context, int minimum,
                              const std::string &help);

// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n.
void addSamplingOptions(CLI::App &app, runtime::SamplerOptions &sampling);

} // namespace kiln::cli
