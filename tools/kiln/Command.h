// Each `kiln` subcommand lives in its own file and registers itself on the
// top-level parser; main() runs the one the user named.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace kiln::cli {

struct Command {
  CLI::App *app;
  std::function<int()> run; // returns the process exit code
};

Command addInfoCommand(CLI::App &parent);
Command addSynthCommand(CLI::App &parent);
Command addQuantizeCommand(CLI::App &parent);
Command addTokenizeCommand(CLI::App &parent);
Command addDetokenizeCommand(CLI::App &parent);
Command addConvertCommand(CLI::App &parent);
#ifdef KILN_HAVE_COMPILER
Command addCompileCommand(CLI::App &parent);
Command addRunCommand(CLI::App &parent);
Command addPerplexityCommand(CLI::App &parent);
Command addBenchCommand(CLI::App &parent);
#endif

// Prints "kiln: error: <message>" on stderr and returns exit code 1.
int reportError(const std::string &message);

} // namespace kiln::cli
