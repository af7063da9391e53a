// `kiln compile MODEL --emit mlir|llvm`: the model lowered to the kiln
// dialect, or the generated CPU kernels as optimized LLVM IR (for this
// host's CPU and features). AOT artifacts (--emit artifact) come later.
#include "Command.h"
#include "CompileFlags.h"

#include "CpuPipeline.h"
#include "ModelBuilder.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "support/AtomicFile.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace kiln::cli {

namespace {

struct CompileArgs {
  CompileFlags compile;
  std::string model;
  std::string emit = "mlir";
  std::string output = "-";
  bool allLogits = false;
};

// The kernels' optimized LLVM IR, through the JIT's dump (no cache: the
// IR is only printed when LLVM runs).
Result<std::string> kernelIr(const GgufFile &file, const CompileArgs &args) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("kiln-kernels-" + std::to_string(::getpid()) + ".ll"))
                         .string();
  codegen::CpuCompileOptions options;
  KILN_TRY(applyCompileFlags(args.compile, options));
  options.allLogits = args.allLogits;
  options.cpu.dumpIrPath = path;
  auto program = codegen::compileForCpu(file, options);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(path);
  if (!program)
    return std::move(program).takeError();
  return text.str();
}

int runCompile(const CompileArgs &args) {
  auto file = openModelToCompile(args.compile, args.model);
  if (!file)
    return reportError(file.error().message);
  std::string text;
  if (args.emit == "llvm") {
    auto ir = kernelIr(*file, args);
    if (!ir)
      return reportError(ir.error().message);
    text = std::move(ir).value();
  }
  if (args.emit == "mlir") {
    auto spec = ModelSpec::fromGguf(*file);
    if (!spec)
      return reportError(spec.error().message);
    mlir::MLIRContext context;
    codegen::CpuCompileOptions options;
    if (Status s = applyCompileFlags(args.compile, options); !s.ok())
      return reportError(s.message());
    options.allLogits = args.allLogits;
    auto module = codegen::buildGraph(context, *spec, options);
    if (!module)
      return reportError(module.error().message);
    llvm::raw_string_ostream stream(text);
    (*module)->print(stream);
    stream.flush();
  }
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
      "compile", "Compile a GGUF model: the kiln MLIR graph, or the CPU "
                 "kernels' LLVM IR");
  app->add_option("model", args->model, "GGUF file")->required();
  addCompileFlags(*app, args->compile);
  app->add_option("--emit", args->emit,
                  "What to produce: mlir (the graph after the passes) or llvm "
                  "(the generated kernels, optimized, for this CPU)")
      ->check(CLI::IsMember({"mlir", "llvm"}))
      ->capture_default_str();
  app->add_option("-o,--output", args->output, "Output file ('-': stdout)")
      ->capture_default_str();
  app->add_flag("--all-logits", args->allLogits,
                "prefill returns the logits of every token, not only the "
                "last");
  return {app, [args]() { return runCompile(*args); }};
}

} // namespace kiln::cli
