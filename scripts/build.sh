#!/usr/bin/env bash
# Configures and builds kiln. usage: build.sh [release|sanitize]
#   release  -> build/          (everything; the kiln program is build/bin/kiln)
#   sanitize -> build-sanitize/ (frontend, runtime, CLI and their tests under
#                                ASan+UBSan, plus the libFuzzer targets)
set -euo pipefail
cd "$(dirname "$0")/.."
flavor=${1:-release}
common=(
  -G Ninja
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
)
case "$flavor" in
  release)
    dir=build
    cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKILN_REQUIRE_OPENCL="${KILN_REQUIRE_OPENCL:-OFF}" >/dev/null
    ;;
  sanitize)
    dir=build-sanitize
    cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=Debug \
      -DKILN_SANITIZE=ON -DKILN_FUZZ=ON -DKILN_BUILD_COMPILER=OFF \
      -DKILN_BUILD_BENCHMARKS=OFF >/dev/null
    ;;
  *)
    echo "usage: $0 [release|sanitize]" >&2
    exit 2
    ;;
esac
cmake --build "$dir"
