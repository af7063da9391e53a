# lit configuration of kiln's FileCheck tests (tests/lit).
import os
import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_build_dir, "tests", "lit")

# Our tools first, then LLVM 19's FileCheck and not.
config.environment["PATH"] = os.pathsep.join(
    [config.kiln_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.substitutions.append(("%shared_models", config.kiln_shared_models_dir))
config.substitutions.append(("%repo", config.kiln_source_dir))
