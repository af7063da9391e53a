#!/usr/bin/env bash
# Nothing the user owns is overwritten or lost: an output that is one of the
# inputs, by any path form, is refused (exit 1, input unchanged), and a
# command ended by SIGINT, SIGTERM or SIGKILL leaves no temporary behind
# (SIGKILL's is removed by the next run writing the same file).
source "$(dirname "$0")/lib.sh" "$@"
KILN=$(realpath "$KILN") # some commands run from another folder
vocab="$SHARED/vocab/ggml-vocab-llama-spm.gguf"

sums() { (cd "$1" && sha256sum -- * 2>/dev/null); }

# refused NAME INPUT -- COMMAND...: exit 1 naming the input, and INPUT
# byte for byte as before.
refused() {
  local name=$1 input=$2 before
  before=$(sha256sum <"$input")
  expect_error "$name" "is the input .*; choose another output" "${@:3}"
  [ "$(sha256sum <"$input")" = "$before" ] || fail "$name: the input changed"
  [ -z "$(ls -a "$(dirname "$input")" | grep 'tmp\.kiln-')" ] ||
    fail "$name: a temporary was left"
}

# --- kiln convert: every file of the checkpoint, by every path form -------
# Writable copies: a read-only folder would refuse the temporary anyway.
for model in tinyshakes-llama tinyshakes-gpt2; do
  cp -r "$SHARED/$model/hf" "$WORK/$model"
  chmod -R u+w "$WORK/$model"
done
mkdir "$WORK/links"
for model in tinyshakes-llama tinyshakes-gpt2; do
  dir="$WORK/$model"
  before=$(sums "$dir")
  for f in "$dir"/*; do
    base=$(basename "$f")
    refused "convert $model $base" "$f" -- "$KILN" convert "$dir" -o "$f"
    refused "convert $model ./$base" "$f" -- \
      bash -c 'cd "$1" && exec "$2" convert . -o "./$3"' _ "$dir" "$KILN" "$base"
    refused "convert $model a/../$base" "$f" -- \
      "$KILN" convert "$dir" -o "$WORK/links/../$model/$base"
    ln -s "$f" "$WORK/links/$model-$base"
    refused "convert $model symlink to $base" "$f" -- \
      "$KILN" convert "$dir" -o "$WORK/links/$model-$base"
    ln "$f" "$WORK/links/$model-hard-$base"
    refused "convert $model hard link to $base" "$f" -- \
      "$KILN" convert "$dir" -o "$WORK/links/$model-hard-$base"
  done
  [ "$(sums "$dir")" = "$before" ] || fail "convert $model: the checkpoint changed"
done
# A file beside the checkpoint that it does not read is a fine output.
"$KILN" convert "$WORK/tinyshakes-llama" -o "$WORK/tinyshakes-llama/out.gguf" \
  2>"$WORK/err" || { fail "convert into the checkpoint folder"; cat "$WORK/err" >&2; }

# --- kiln synth --vocab V -o V, kiln quantize IN IN -----------------------
cp "$vocab" "$WORK/vocab.gguf"
ln -s "$WORK/vocab.gguf" "$WORK/links/vocab.gguf"
refused "synth plain" "$WORK/vocab.gguf" -- \
  "$KILN" synth --preset tiny --vocab "$WORK/vocab.gguf" -o "$WORK/vocab.gguf"
refused "synth symlink" "$WORK/vocab.gguf" -- \
  "$KILN" synth --preset tiny --vocab "$WORK/vocab.gguf" -o "$WORK/links/vocab.gguf"
cp "$SHARED/tinyshakes-llama/tinyshakes-llama-f32.gguf" "$WORK/f32.gguf"
ln "$WORK/f32.gguf" "$WORK/links/f32.gguf"
refused "quantize ./" "$WORK/f32.gguf" -- \
  "$KILN" quantize "$WORK/f32.gguf" "$WORK/./f32.gguf" q4_0
refused "quantize hard link" "$WORK/f32.gguf" -- \
  "$KILN" quantize "$WORK/f32.gguf" "$WORK/links/f32.gguf" q4_0

# --- Signals mid-write ----------------------------------------------------
# A shell starts background jobs with SIGINT ignored; the wrapper gives the
# command the default actions a terminal's foreground job has. A watchdog
# kills it after 120 s, so a command that ignores the signal cannot hang
# the test.
background() {
  python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$@" 2>"$WORK/bg-err" &
  pid=$!
  (sleep 120; kill -KILL "$pid" 2>/dev/null) &
  watchdog=$!
}
stop_watchdog() { kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null; }

# wait_for_temp DIR NAME PID FIND_ARGS...: until PID's temporary of NAME
# exists (and matches FIND_ARGS), 30 s at most; true if it does.
wait_for_temp() {
  local dir=$1 name=$2 owner=$3
  shift 3
  for _ in $(seq 600); do
    [ -n "$(find "$dir" -maxdepth 1 -name "$name.tmp.kiln-$owner-*" "$@")" ] && return 0
    kill -0 "$owner" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# interrupted NAME SIGNAL DIR OUT FIND_ARGS -- COMMAND...: the command,
# sent SIGNAL while it writes OUT, ends by that signal and leaves nothing.
interrupted() {
  local name=$1 signal=$2 dir=$3 out=$4 size=$5 status=0
  shift 6
  background "$@"
  if wait_for_temp "$dir" "$out" "$pid" $size; then
    kill "-$signal" "$pid"
  else
    fail "$name: no temporary appeared ($(cat "$WORK/bg-err"))"
  fi
  wait "$pid" || status=$?
  stop_watchdog
  local expected=$((128 + $(kill -l "$signal")))
  [ "$status" -eq "$expected" ] || fail "$name: exit status $status, expected $expected"
  [ ! -e "$dir/$out" ] || fail "$name: a partial $out was left"
  [ -z "$(ls -a "$dir" | grep 'tmp\.kiln-')" ] ||
    fail "$name: a temporary was left: $(ls -a "$dir")"
}

mkdir "$WORK/sig"
# 2.2 GB to write: seconds after its first 16 KiB it is still writing.
big=(synth --preset tinyllama-1.1b --type f16 --threads 1 --vocab "$vocab")
for signal in INT TERM; do
  interrupted "synth SIG$signal" "$signal" "$WORK/sig" big.gguf "-size +16k" -- \
    "$KILN" "${big[@]}" -o "$WORK/sig/big.gguf"
done

# A 28 MB f32 model (GPT-2's 50257 tokens) takes one thread about 2 s to
# quantize to q2_K; it is signalled as soon as its temporary exists.
"$KILN" synth --preset tiny --type f32 --vocab "$SHARED/vocab/ggml-vocab-gpt-2.gguf" \
  -o "$WORK/wide.gguf" 2>"$WORK/err" || { fail "synth wide"; cat "$WORK/err" >&2; }
for signal in INT TERM; do
  interrupted "quantize SIG$signal" "$signal" "$WORK/sig" q.gguf "" -- \
    "$KILN" quantize --threads 1 "$WORK/wide.gguf" "$WORK/sig/q.gguf" q2_k
done

# SIGKILL runs no handler: the temporary stays until the next run writing
# the same file removes it.
background "$KILN" "${big[@]}" -o "$WORK/sig/big.gguf"
if wait_for_temp "$WORK/sig" big.gguf "$pid" -size +16k; then
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  stop_watchdog
  [ -n "$(ls -a "$WORK/sig" | grep 'big\.gguf\.tmp\.kiln-')" ] ||
    fail "SIGKILL: no leftover to clean (the test proves nothing)"
  "$KILN" synth --preset tiny --vocab "$vocab" -o "$WORK/sig/big.gguf" \
    2>"$WORK/err" || { fail "synth after SIGKILL"; cat "$WORK/err" >&2; }
  [ "$(ls -A "$WORK/sig")" = big.gguf ] ||
    fail "SIGKILL: the next run left $(ls -A "$WORK/sig")"
else
  fail "SIGKILL: no temporary appeared ($(cat "$WORK/bg-err"))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  stop_watchdog
fi
finish
