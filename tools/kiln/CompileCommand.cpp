// `kiln compile MODEL --emit mlir`: lowers the model to the kiln dialect.
// Code generation (--emit artifact, --target) comes with the CPU back end.
#include "Command.h"

#include "ModelBuilder.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "support/AtomicFile.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <iostream>
#include <memory>

namespace kiln::cli {

namespace {

struct CompileArgs {
  std::string model;
  std::string emit = "mlir";
  std::string output = "-";
  bool allLogits = false;
};

int runCompile(const CompileArgs &args) {
  auto file = GgufFile::open(args.model);
  if (!file)
    return reportError(file.error().message);
  auto spec = ModelSpec::fromGguf(*file);
  if (!spec)
    return reportError(spec.error().message);
  mlir::MLIRContext context;
  ir::BuildOptions options;
  options.allLogits = args.allLogits;
  auto module = ir::buildModel(context, *spec, options);
  if (!module)
    return reportError(module.error().message);

  std::string text;
  llvm::raw_string_ostream stream(text);
  (*module)->print(stream);
  stream.flush();
  if (args.output == "-") {
    std::cout << text;
    return 0;
  }
  auto out = AtomicFile::create(args.output);
  if (!out)
    return reportError(out.error().message);
  Status written = out->write(text.data(), text.size());
  if (written)
    written = out->commit();
  return written ? 0 : reportError(written.message());
}

} // namespace

Command addCompileCommand(CLI::App &parent) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App *app = parent.add_subcommand(
      "compile", "Compile a GGUF model (today: lower it to the kiln MLIR "
                 "dialect)");
  app->add_option("model", args->model, "GGUF file")->required();
  app->add_option("--emit", args->emit, "What to produce: mlir (the graph)")
      ->check(CLI::IsMember({"mlir"}))
      ->capture_default_str();
  app->add_option("-o,--output", args->output, "Output file ('-': stdout)")
      ->capture_default_str();
  app->add_flag("--all-logits", args->allLogits,
                "prefill returns the logits of every token, not only the "
                "last");
  return {app, [args]() { return runCompile(*args); }};
}

} // namespace kiln::cli
