#!/usr/bin/env bash
# Installs what kiln needs to build and test on Debian 12 (run as root).
# Skips apt entirely when everything is already there.
set -euo pipefail
packages=(
  cmake ninja-build ccache g++ python3 git
  llvm-19-dev libmlir-19-dev mlir-19-tools clang-19 lld-19 libomp-19-dev
  libclang-rt-19-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libpcre2-dev libicu-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ "${#missing[@]}" -ne 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
