#include "CpuPipeline.h"

#include "ModelBuilder.h"
#include "Passes.h"
#include "gguf/GgufFile.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln::codegen {

Result<mlir::OwningOpRef<mlir::ModuleOp>>
buildGraph(mlir::MLIRContext &context, const ModelSpec &spec,
           const CpuCompileOptions &options) {
  ir::BuildOptions build;
  build.allLogits = options.allLogits;
  auto module = ir::buildModel(context, spec, build);
  if (!module)
    return std::move(module).takeError();
  passes::PassOptions passOptions = options.passes;
  // The fused matmul kernels are written for the integer and plain dot
  // products; the float-dot fallback (integerDots off) runs unfused.
  if (!options.lower.integerDots)
    for (const std::string &name : passes::fusionPassNames())
      if (name != "kiln-flash-attention")
        passOptions.disabled.insert(name);
  if (spec.headDim % 8 != 0) // the flash kernel reads heads 8 at a time
    passOptions.disabled.insert("kiln-flash-attention");
  KILN_TRY(passes::runPasses(module->get(), passOptions));
  return std::move(module).value();
}

Result<CpuProgram> compileForCpu(const GgufFile &file,
                                 const CpuCompileOptions &options) {
  auto spec = ModelSpec::fromGguf(file);
  if (!spec)
    return std::move(spec).takeError();
  mlir::MLIRContext context;
  auto module = buildGraph(context, *spec, options);
  if (!module)
    return std::move(module).takeError();
  if (!options.printIrTo.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream out(options.printIrTo, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return makeError(options.printIrTo, ": ", ec.message());
    (*module)->print(out);
  }
  auto lowered = lowerToPlan(module->get(), options.lower);
  if (!lowered)
    return std::move(lowered).takeError();
  auto jit = cpu::CpuJit::compile(*lowered, options.cpu);
  if (!jit)
    return std::move(jit).takeError();
  return CpuProgram{std::move(spec).value(), std::move(lowered).value(),
                    std::move(jit).value()};
}

} // namespace kiln::codegen
