# LLVM/MLIR 19 from Debian, for the compiler rooms (ir, passes, codegen) and
# the tools that link them. The frontend and runtime never include this.
# (MLIR's config accepts only exact version requests, so check the major.)
find_package(MLIR REQUIRED CONFIG HINTS /usr/lib/llvm-19/lib/cmake/mlir)
if(NOT LLVM_VERSION_MAJOR EQUAL 19)
  message(FATAL_ERROR "kiln needs LLVM/MLIR 19, found ${LLVM_PACKAGE_VERSION} "
                      "at ${MLIR_DIR}")
endif()
message(STATUS "Using MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR}")
list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)
set(KILN_LIT "/usr/lib/llvm-19/build/utils/lit/lit.py")
set(KILN_LLVM_TOOLS_DIR "/usr/lib/llvm-19/bin")
