// kiln: one program, one subcommand per job.
#include "Command.h"

#include <cstdio>
#include <iostream>
#include <vector>

namespace kiln::cli {

int reportError(const std::string &message) {
  std::fflush(stdout);
  std::cerr << "kiln: error: " << message << "\n";
  return 1;
}

} // namespace kiln::cli

int main(int argc, char **argv) {
  using namespace kiln::cli;
  CLI::App app{"kiln: a compiler for transformer language models stored as "
               "GGUF files"};
  app.name("kiln");
  app.require_subcommand(1, 1);

  std::vector<Command> commands;
  commands.push_back(addInfoCommand(app));
  commands.push_back(addSynthCommand(app));
  commands.push_back(addQuantizeCommand(app));
  commands.push_back(addTokenizeCommand(app));
  commands.push_back(addDetokenizeCommand(app));
  commands.push_back(addConvertCommand(app));
#ifdef KILN_HAVE_COMPILER
  commands.push_back(addRunCommand(app));
  commands.push_back(addPerplexityCommand(app));
  commands.push_back(addCompileCommand(app));
  commands.push_back(addBenchCommand(app));
#endif

  // `kiln help [COMMAND]` is the same as `kiln [COMMAND] --help`.
  std::string helpTopic;
  CLI::App *help = app.add_subcommand("help", "Show help for kiln or a command");
  help->add_option("command", helpTopic, "Command to describe");

  // Rendered before parsing: once a subcommand is parsed, CLI11 renders
  // that subcommand's help instead.
  std::string mainHelp = app.help();
  std::vector<std::string> commandHelp;
  for (const Command &command : commands)
    commandHelp.push_back(command.app->help());

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success &e) { // --help and friends
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    if (argc <= 1) {
      std::cout << mainHelp;
      return 2;
    }
    std::cerr << "kiln: error: " << e.what()
              << "\n(see 'kiln help' or 'kiln COMMAND --help')\n";
    return 2;
  }

  if (help->parsed()) {
    if (helpTopic.empty()) {
      std::cout << mainHelp;
      return 0;
    }
    for (size_t i = 0; i < commands.size(); ++i)
      if (commands[i].app->get_name() == helpTopic) {
        std::cout << commandHelp[i];
        return 0;
      }
    return reportError("no command named '" + helpTopic + "' (see 'kiln help')");
  }
  for (const Command &command : commands)
    if (command.app->parsed())
      return command.run();
  return 1;
}
