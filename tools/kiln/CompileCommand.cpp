// `kiln compile MODEL --emit mlir|llvm|opencl|plan`: the model lowered to
// the kiln dialect, the generated CPU kernels as optimized LLVM IR (for this
// host's CPU and features), the OpenCL target's program source (for the
// OpenCL device found, else the OpenCL C 1.2 baseline), or the execution
// plan with its activation arena (each buffer's lifetime, size and offset);
// or, with -o FILE.kiln and no --emit, an AOT artifact (CompileArtifact.h).
#include "Command.h"
#include "CompileArtifact.h"
#include "CompileFlags.h"

#include "codegen/Compile.h"
#include "codegen/cuda/PtxGenerator.h"
#ifdef KILN_HAVE_OPENCL
#include "codegen/opencl/OpenClTarget.h"
#endif
#include "ModelBuilder.h"
#include "gguf/GgufFile.h"
#include "model/ModelSpec.h"
#include "runtime/MemoryPlanner.h"
#include "support/AtomicFile.h"
#include "support/SameFile.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

namespace kiln::cli {

namespace {

struct CompileArgs {
  CompileFlags compile;
  std::string model;
  std::string emit; // empty: artifact with -o FILE.kiln, else mlir
  std::string output = "-";
  std::string cpu = "native";
  bool embedWeights = false;
  bool repackAtLoad = false;
  bool allLogits = false;
  int64_t batch = 256;
};

// The kernels' optimized LLVM IR, handed back in memory by the JIT (no
// cache: the IR only exists when LLVM runs; no temporary file).
Result<std::string> kernelIr(const GgufFile &file, const CompileArgs &args) {
  codegen::CompileOptions options;
  KILN_TRY(applyCompileFlags(args.compile, options));
  options.allLogits = args.allLogits;
  std::string ir;
  options.cpu.irOut = &ir;
  auto program = codegen::compile(file, options);
  if (!program)
    return std::move(program).takeError();
  return ir;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

std::string slotText(const runtime::ExecutionPlan &plan, const runtime::Slot &slot) {
  switch (slot.kind) {
  case runtime::SlotKind::Tokens: return "tokens";
  case runtime::SlotKind::Weight: {
    if (slot.index >= plan.weightNames.size())
      return "w" + std::to_string(slot.index);
    // A weight the target reads reordered says so: name@layout.
    runtime::WeightLayout layout = slot.index < plan.weightLayouts.size()
                                       ? plan.weightLayouts[slot.index]
                                       : runtime::WeightLayout::Gguf;
    return layout == runtime::WeightLayout::Gguf
               ? plan.weightNames[slot.index]
               : plan.weightNames[slot.index] + "@" +
                     std::string(runtime::weightLayoutName(layout));
  }
  case runtime::SlotKind::Activation: return "a" + std::to_string(slot.index);
  case runtime::SlotKind::KeyCache: return "kcache." + std::to_string(slot.index);
  case runtime::SlotKind::ValueCache: return "vcache." + std::to_string(slot.index);
  }
  return "?";
}

std::string liveText(const std::optional<runtime::LiveRange> &range,
                     const runtime::EntryPoint &entry) {
  if (!range)
    return "-";
  auto end = [&](uint32_t step) {
    return step == entry.steps.size() ? std::string("ret") : std::to_string(step);
  };
  return end(range->first) + ".." + end(range->last);
}

// --emit plan: the steps of both entry points, then the arena the memory
// planner lays out for `batch` rows, then the totals.
std::string planText(const runtime::ExecutionPlan &plan,
                     const runtime::MemoryPlan &memory, int64_t batch) {
  std::ostringstream out;
  out << "# kiln execution plan: " << plan.kernelSymbols.size() << " kernels, "
      << plan.weightNames.size() << " weights, " << plan.buffers.size()
      << " activation buffers, batch " << batch << "\n";
  for (auto [name, entry] : {std::pair{"prefill", &plan.prefill},
                             std::pair{"decode", &plan.decode}}) {
    out << "\n" << name << ": " << entry->steps.size() << " steps, returns a"
        << entry->logits << (entry->allRows ? " (every row)" : " (last row)")
        << "\n";
    for (size_t i = 0; i < entry->steps.size(); ++i) {
      const runtime::Step &step = entry->steps[i];
      char head[32];
      std::snprintf(head, sizeof head, "  %4zu  ", i);
      out << head
          << (step.kernel < plan.kernelSymbols.size() ? plan.kernelSymbols[step.kernel]
                                                      : "?")
          << (step.singleRow ? " [1 row]" : "") << " (";
      for (size_t a = 0; a < step.args.size(); ++a)
        out << (a ? ", " : "") << slotText(plan, step.args[a]);
      out << ")\n";
    }
  }
  out << "\nbuffers: rows x cols x element bytes (rounded up to "
      << runtime::kArenaAlignment
      << "), arena offset, live steps of prefill and decode (inclusive; ret: "
         "read after the call returns)\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %6s %6s %8s %3s %12s %12s  %-12s %-12s\n",
                "buffer", "rows", "cols", "B", "bytes", "offset", "prefill",
                "decode");
  out << line;
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const runtime::ActivationBuffer &buffer = plan.buffers[i];
    const runtime::BufferPlacement &placed = memory.buffers[i];
    std::snprintf(line, sizeof line,
                  "  %6s %6lld %8lld %3u %12llu %12s  %-12s %-12s\n",
                  ("a" + std::to_string(i)).c_str(),
                  static_cast<long long>(buffer.singleRow ? 1 : batch),
                  static_cast<long long>(buffer.cols), buffer.elementBytes,
                  static_cast<unsigned long long>(placed.bytes),
                  placed.used() ? std::to_string(placed.offset).c_str() : "unused",
                  liveText(placed.prefill, plan.prefill).c_str(),
                  liveText(placed.decode, plan.decode).c_str());
    out << line;
  }
  double ratio = memory.arenaBytes
                     ? double(memory.unsharedBytes) / double(memory.arenaBytes)
                     : 1.0;
  std::snprintf(line, sizeof line, "%.2f", ratio);
  out << "\narena bytes: " << memory.arenaBytes << " (" << mib(memory.arenaBytes)
      << ")\nwithout reuse bytes: " << memory.unsharedBytes << " ("
      << mib(memory.unsharedBytes) << ")\nreuse ratio: " << line << "x\n";
  return out.str();
}

// The model's execution plan and kernel descriptions for the command's
// target and flags: what --emit plan, opencl and ptx print from.
Result<codegen::LoweredModel> lowerForEmission(const GgufFile &file, const CompileArgs &args) {
  auto spec = ModelSpec::fromGguf(file);
  if (!spec)
    return std::move(spec).takeError();
  mlir::MLIRContext context;
  codegen::CompileOptions options;
  KILN_TRY(applyCompileFlags(args.compile, options));
  options.allLogits = args.allLogits;
  auto module = codegen::buildGraph(context, *spec, options);
  if (!module)
    return std::move(module).takeError();
  auto lowered = codegen::lowerGraph(module->get(), options);
  if (!lowered)
    return std::move(lowered).takeError();
  return std::move(lowered).value();
}

Result<std::string> planEmission(const GgufFile &file, const CompileArgs &args) {
  auto lowered = lowerForEmission(file, args);
  if (!lowered)
    return std::move(lowered).takeError();
  auto memory = runtime::planMemory(lowered->plan, args.batch);
  if (!memory)
    return std::move(memory).takeError();
  return planText(lowered->plan, *memory, args.batch);
}

// The OpenCL target's whole program: its preambles, then every kernel
// with its launch shape in a comment.
Result<std::string> openClEmission(const GgufFile &file, const CompileArgs &args) {
#ifdef KILN_HAVE_OPENCL
  auto lowered = lowerForEmission(file, args);
  if (!lowered)
    return std::move(lowered).takeError();
  std::string why;
  runtime::opencl::DeviceFacts facts = codegen::opencl::deviceFactsOrBaseline(&why);
  auto program = codegen::opencl::generateModule(*lowered, facts);
  if (!program)
    return std::move(program).takeError();
  std::string text = "// kiln OpenCL program for " +
                     (why.empty() ? "'" + facts.device + "' (" + facts.platform + ", " +
                                        facts.openclC + ")"
                                  : "the OpenCL C 1.2 baseline (" + why + ")") +
                     "\n// build options: " + program->buildOptions + "\n// launches:\n";
  for (const auto &kernel : program->kernels)
    text += "//   " + kernel.name + ": " + std::to_string(kernel.launch.groups) + " x " +
            std::to_string(kernel.launch.local) + " work-items" +
            (kernel.launch.perRow ? " per row" : "") + "\n";
  return text + program->source;
#else
  return makeError("--emit opencl: this kiln was built without OpenCL (no ICD loader and "
                   "headers at build time; install ocl-icd-opencl-dev and opencl-headers)");
#endif
}

// The CUDA target's PTX module (or its NVPTX LLVM IR), for --cuda-arch or
// sm_80: generated without a GPU or driver, so it can be checked (ptxas)
// and shipped anywhere.
Result<std::string> cudaEmission(const GgufFile &file, const CompileArgs &args) {
  auto lowered = lowerForEmission(file, args);
  if (!lowered)
    return std::move(lowered).takeError();
  codegen::cuda::PtxOptions ptx;
  if (!args.compile.cudaArch.empty()) // checked by applyCompileFlags
    ptx.arch = args.compile.cudaArch;
  std::string ir;
  if (args.emit == "llvm")
    ptx.irOut = &ir;
  auto generated = codegen::cuda::generatePtx(*lowered, ptx);
  if (!generated)
    return std::move(generated).takeError();
  if (args.emit == "llvm")
    return ir;
  std::string text = "// kiln CUDA kernels for " + generated->arch + "\n// launches:\n";
  for (const auto &kernel : generated->kernels)
    text += "//   " + kernel.name + ": " + std::to_string(kernel.argCount) + " arguments, " +
            (kernel.tasks.perRow ? std::to_string(kernel.tasks.perRow) + " threads per row"
                                 : std::to_string(kernel.tasks.fixed) + " threads") +
            ", blocks of " + std::to_string(kernel.blockSize) + "\n";
  return text + generated->ptx;
}

int emitText(const GgufFile &file, const CompileArgs &args);

int runCompile(const CompileArgs &args) {
  // Refused before any work; "-" is stdout, never a file.
  if (Status distinct = checkNotInput(args.output, args.model);
      args.output != "-" && !distinct)
    return reportError(distinct.message());
  CompileArgs resolved = args;
  // Without --emit, the output's name says what is wanted: FILE.kiln an
  // artifact, anything else (stdout included) the graph as before.
  auto endsWith = [](const std::string &text, const std::string &tail) {
    return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (resolved.emit.empty())
    resolved.emit = endsWith(args.output, ".kiln") ? "artifact" : "mlir";
  if (resolved.emit == "artifact" && args.output == "-")
    return reportError("--emit artifact: an artifact is a file: name it with -o FILE.kiln");
  if (resolved.emit != "artifact" && args.cpu != "native")
    return reportError("--cpu " + args.cpu + ": only an artifact (-o FILE.kiln) is compiled "
                       "for a CPU other than this one");
  if (resolved.emit != "artifact" && (args.embedWeights || args.repackAtLoad))
    return reportError(std::string(args.embedWeights ? "--embed-weights" : "--repack-at-load") +
                       ": only an artifact (-o FILE.kiln) holds weights");
  if (args.embedWeights && args.repackAtLoad)
    return reportError("--embed-weights stores every weight as the kernels read it; "
                       "--repack-at-load stores none of the repacked ones: choose one");
  auto file = openModelToCompile(args.compile, args.model, /*toRun=*/false);
  if (!file)
    return reportError(file.error().message);
  if (resolved.emit == "artifact")
    return compileArtifact(*file, args.compile,
                           {args.model, args.output, args.cpu, args.allLogits,
                            args.embedWeights, args.repackAtLoad});
  return emitText(*file, resolved);
}

int emitText(const GgufFile &fileRef, const CompileArgs &args) {
  const GgufFile *file = &fileRef;
  std::string text;
  if (args.emit == "llvm" && args.compile.target == "opencl")
    return reportError("--emit llvm: the OpenCL target emits OpenCL C: --emit opencl");
  if (args.emit == "opencl" && args.compile.target != "opencl")
    return reportError("--emit opencl needs --target opencl");
  if (args.emit == "ptx" && args.compile.target != "cuda")
    return reportError("--emit ptx needs --target cuda");
  if (args.compile.target == "cuda" && (args.emit == "ptx" || args.emit == "llvm")) {
    auto ptx = cudaEmission(*file, args);
    if (!ptx)
      return reportError(ptx.error().message);
    text = std::move(ptx).value();
  }
  if (args.emit == "opencl") {
    auto source = openClEmission(*file, args);
    if (!source)
      return reportError(source.error().message);
    text = std::move(source).value();
  }
  if (args.emit == "llvm" && args.compile.target == "cpu") {
    auto ir = kernelIr(*file, args);
    if (!ir)
      return reportError(ir.error().message);
    text = std::move(ir).value();
  }
  if (args.emit == "plan") {
    auto plan = planEmission(*file, args);
    if (!plan)
      return reportError(plan.error().message);
    text = std::move(plan).value();
  }
  if (args.emit == "mlir") {
    auto spec = ModelSpec::fromGguf(*file);
    if (!spec)
      return reportError(spec.error().message);
    mlir::MLIRContext context;
    codegen::CompileOptions options;
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
      "compile", "Compile a GGUF model: the kiln MLIR graph, the CPU "
                 "kernels' LLVM IR, or the execution plan and its memory");
  app->add_option("model", args->model, "GGUF file")->required();
  addCompileFlags(*app, args->compile);
  app->add_option("--emit", args->emit,
                  "What to produce: mlir (the graph after the passes), llvm "
                  "(the generated kernels, optimized: for this CPU, or with --target cuda "
                  "for NVPTX), ptx (with --target cuda: the PTX module), opencl "
                  "(with --target opencl: the generated OpenCL C program) or plan "
                  "(the kernel calls, and the activation arena: each buffer's "
                  "lifetime, size and offset), or artifact (the default with -o FILE.kiln)")
      ->check(CLI::IsMember({"mlir", "llvm", "ptx", "opencl", "plan", "artifact"}));
  app->add_option("-o,--output", args->output,
                  "Output file ('-': stdout). Without --emit, a FILE.kiln gets the AOT "
                  "artifact (--emit artifact: the kernels compiled for --target and --cpu, "
                  "the plan, the tokenizer, the weights the target repacks or --precision "
                  "auto changed, and the GGUF's path and hash; run it with kiln run "
                  "FILE.kiln or kiln-run), any other name the graph")
      ->capture_default_str();
  app->add_option("--cpu", args->cpu,
                  "The CPU an artifact's code is compiled for: native (this one, with its "
                  "features) or an LLVM CPU name such as x86-64-v3, znver4, sapphirerapids")
      ->capture_default_str();
  app->add_flag("--embed-weights", args->embedWeights,
                "An artifact holds every weight (the GGUF is not needed to run it), not only "
                "those the target repacks or --precision auto requantized");
  app->add_flag("--repack-at-load", args->repackAtLoad,
                "An artifact leaves the weights the target repacks in the GGUF and repacks "
                "them at every load (a smaller artifact, a slower start)");
  app->add_option("-b,--batch", args->batch,
                  "--emit plan: prompt tokens per prefill call, the rows the "
                  "arena is laid out for")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app->add_flag("--all-logits", args->allLogits,
                "prefill returns the logits of every token, not only the "
                "last");
  return {app, [args]() { return runCompile(*args); }};
}

} // namespace kiln::cli
