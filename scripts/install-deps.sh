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

# NVIDIA's ptxas checks the CUDA target's PTX (tests/e2e/cuda_ptx.sh): the
# CUDA toolkit's where it is installed, else the one PyPI's
# nvidia-cuda-nvcc-cu12 ships (no GPU or driver is needed for either).
if [ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/ptxas" ] && [ ! -x /usr/local/cuda/bin/ptxas ] &&
   ! python3 -c 'import os, nvidia.cuda_nvcc as n; assert os.access(os.path.join(list(n.__path__)[0], "bin", "ptxas"), os.X_OK)' 2>/dev/null; then
  echo "installing ptxas: python3 -m pip install nvidia-cuda-nvcc-cu12"
  python3 -m pip install -q nvidia-cuda-nvcc-cu12
fi
