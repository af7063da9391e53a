#!/usr/bin/env bash
# The CUDA target's PTX for every shared model and type, fused and (one per
# architecture family) unfused, is accepted by NVIDIA's ptxas for the GPU
# architecture given (sm_80, sm_90): the CPU-side proof of the CUDA back end,
# run where no GPU is. Every kernel of the plan is an .entry of the module.
# ptxas: $PTXAS, else $CUDA_HOME/bin/ptxas or /usr/local/cuda/bin/ptxas,
# else the one PyPI's nvidia-cuda-nvcc-cu12 ships (scripts/install-deps.sh).
# usage: cuda_ptx.sh KILN SHARED ARCH llama1|llama2|others (half the
# tinyshakes-llama types each, or the rest: ptxas takes up to half a minute
# per module, so CTest runs the groups side by side)
source "$(dirname "$0")/lib.sh" "$1" "$2"
arch=$3
group=$4
case "$group" in
  llama1 | llama2 | others) ;;
  *) echo "usage: cuda_ptx.sh KILN SHARED ARCH llama1|llama2|others" >&2; exit 2 ;;
esac

find_ptxas() {
  local candidate
  for candidate in "${PTXAS:-}" "${CUDA_HOME:-/usr/local/cuda}/bin/ptxas" \
                   /usr/local/cuda/bin/ptxas; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  python3 - <<'PY' 2>/dev/null
import os, nvidia.cuda_nvcc as n
print(os.path.join(list(n.__path__)[0], "bin", "ptxas"))
PY
}
ptxas=$(find_ptxas)
if [ -z "$ptxas" ] || [ ! -x "$ptxas" ]; then
  echo "FAIL: no ptxas (install the CUDA toolkit, or run scripts/install-deps.sh for" \
       "PyPI's nvidia-cuda-nvcc-cu12)" >&2
  exit 1
fi
echo "ptxas: $ptxas ($("$ptxas" --version | tail -1))"

# check NAME MODEL [FLAGS...]: --emit ptx, then ptxas.
check() {
  local name=$1 model=$2
  shift 2
  local ptx=$WORK/$name.ptx
  if ! "$KILN" compile "$model" --target cuda --cuda-arch "$arch" --emit ptx -o "$ptx" "$@" \
       2>"$WORK/err"; then
    fail "$name: --emit ptx: $(cat "$WORK/err")"
    return
  fi
  grep -q "^\.target $arch\$" "$ptx" || fail "$name: the PTX does not target $arch"
  # Every kernel the header lists is an entry of the module.
  local kernels entries
  kernels=$(sed -n 's|^//   \(kiln_[A-Za-z0-9_]*\): .*|\1|p' "$ptx" | sort)
  entries=$(sed -n 's|^\.visible \.entry \(kiln_[A-Za-z0-9_]*\)(.*|\1|p' "$ptx" | sort)
  [ -n "$kernels" ] || fail "$name: the PTX lists no kernels"
  [ "$kernels" = "$entries" ] || fail "$name: kernels '$kernels' but entries '$entries'"
  # The position the device writes before each step (runtime/cuda/CudaModule.h).
  grep -q "^\.visible \.global \.align 8 \.u64 kiln_position;" "$ptx" ||
    fail "$name: no visible kiln_position global"
  if ! "$ptxas" --gpu-name "$arch" "$ptx" -o "$WORK/$name.cubin" 2>"$WORK/err"; then
    fail "$name: ptxas --gpu-name $arch refused the PTX: $(head -20 "$WORK/err")"
    return
  fi
  echo "$name: $(echo "$kernels" | wc -l) kernels accepted by ptxas for $arch"
  rm -f "$ptx" "$WORK/$name.cubin"
}

llama=("$SHARED"/tinyshakes-llama/tinyshakes-llama-*.gguf)
half=$(( (${#llama[@]} + 1) / 2 ))
if [ "$group" = llama1 ]; then
  models=("${llama[@]:0:$half}")
elif [ "$group" = llama2 ]; then
  models=("${llama[@]:$half}")
else
  models=("$SHARED"/tinyshakes-gpt2/tinyshakes-gpt2-*.gguf
          "$SHARED"/llama-2-tiny-random/llama-2-tiny-random.gguf)
fi
[ "${#models[@]}" -ge 3 ] || fail "found only ${#models[@]} shared models for $group"
for model in "${models[@]}"; do
  check "$(basename "$model" .gguf)" "$model"
done
# Unfused: the standalone rope, attention, softmax, SiLU/GELU, add and mul.
if [ "$group" = llama2 ]; then
  check llama-q4_0-unfused "$SHARED/tinyshakes-llama/tinyshakes-llama-q4_0.gguf" --no-fuse
elif [ "$group" = others ]; then
  check gpt2-f32-unfused "$SHARED/tinyshakes-gpt2/tinyshakes-gpt2-f32.gguf" --no-fuse
fi
finish
