#include "codegen/Compile.h"

#include "codegen/Target.h"
#include "codegen/TargetRegistry.h"
#include "ModelBuilder.h"
#include "Passes.h"
#include "gguf/GgufFile.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln::codegen {

namespace {

Result<mlir::OwningOpRef<mlir::ModuleOp>>
graphFor(mlir::MLIRContext &context, const ModelSpec &spec, const Target &target,
         const CompileOptions &options) {
  ir::BuildOptions build;
  build.allLogits = options.allLogits;
  auto module = ir::buildModel(context, spec, build);
  if (!module)
    return std::move(module).takeError();
  passes::PassOptions passOptions = options.passes;
  if (!target.supportsFusedMatmuls(options.lower))
    for (const std::string &name : passes::fusionPassNames())
      if (name != "kiln-flash-attention")
        passOptions.disabled.insert(name);
  if (!target.supportsFlashAttention(spec.headDim))
    passOptions.disabled.insert("kiln-flash-attention");
  KILN_TRY(passes::runPasses(module->get(), passOptions));
  return std::move(module).value();
}

} // namespace

Result<mlir::OwningOpRef<mlir::ModuleOp>>
buildGraph(mlir::MLIRContext &context, const ModelSpec &spec,
           const CompileOptions &options) {
  auto target = findTarget(options.target);
  if (!target)
    return std::move(target).takeError();
  return graphFor(context, spec, **target, options);
}

Result<LoweredModel> lowerGraph(mlir::ModuleOp module, const CompileOptions &options) {
  auto target = findTarget(options.target);
  if (!target)
    return std::move(target).takeError();
  return lowerToPlan(module, **target, options.lower);
}

Result<Program> compile(const GgufFile &file, const CompileOptions &options) {
  auto target = findTarget(options.target);
  if (!target)
    return std::move(target).takeError();
  auto spec = ModelSpec::fromGguf(file);
  if (!spec)
    return std::move(spec).takeError();
  mlir::MLIRContext context;
  auto module = graphFor(context, *spec, **target, options);
  if (!module)
    return std::move(module).takeError();
  if (!options.printIrTo.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream out(options.printIrTo, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return makeError(options.printIrTo, ": ", ec.message());
    (*module)->print(out);
  }
  auto lowered = lowerToPlan(module->get(), **target, options.lower);
  if (!lowered)
    return std::move(lowered).takeError();
  return (*target)->compile(std::move(spec).value(), std::move(lowered).value(), options);
}

} // namespace kiln::codegen
