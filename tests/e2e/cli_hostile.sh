#!/usr/bin/env bash
# The frontend commands on careless input: text inputs that are directories,
# FIFOs, devices or too large; a FIFO as the model; flags out of range. Each
# is a clear error (exit 1, or 2 for a usage error) naming the input, never
# a crash, a hang or a read without bound. Runs in the sanitizer build too.
source "$(dirname "$0")/lib.sh" "$@"
model="$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf"
mkfifo "$WORK/fifo"

# Text inputs (-f): the kind of file is named; a hang fails through timeout.
expect_error tokenize-dir "$WORK: the text file (-f) is a directory" -- \
  timeout 20 "$KILN" tokenize "$model" -f "$WORK"
expect_error tokenize-fifo "fifo: the text file (-f) is a FIFO" -- \
  timeout 20 "$KILN" tokenize "$model" -f "$WORK/fifo"
expect_error tokenize-dev-zero "/dev/zero: the text file (-f) is a character device" -- \
  timeout 20 "$KILN" tokenize "$model" -f /dev/zero
truncate -s 600M "$WORK/sparse.txt"
expect_error tokenize-huge "sparse.txt: the text file (-f) is 629145600 bytes, larger than the 512 MiB" -- \
  timeout 20 "$KILN" tokenize "$model" -f "$WORK/sparse.txt"
rm -f "$WORK/sparse.txt"
# Standard input is read up to the same bound, then refused.
status=0
head -c 600000000 /dev/zero | timeout 60 "$KILN" tokenize "$model" -f - \
  >/dev/null 2>"$WORK/err" || status=$?
[ "$status" -eq 1 ] && grep -q "kiln: error: standard input: .* larger than the 512 MiB" "$WORK/err" ||
  fail "stdin without bound: status $status: $(cat "$WORK/err")"
# An ordinary file still works, from a path and from standard input.
printf 'ROMEO: hello' >"$WORK/prompt.txt"
a=$("$KILN" tokenize "$model" -f "$WORK/prompt.txt" --ids) || fail "tokenize file"
b=$("$KILN" tokenize "$model" -f - --ids <"$WORK/prompt.txt") || fail "tokenize stdin"
c=$("$KILN" tokenize "$model" 'ROMEO: hello' --ids) || fail "tokenize text"
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] || fail "ids differ: '$a' '$b' '$c'"

# A FIFO as the model is refused before it is opened for reading.
expect_error info-fifo "fifo: is a FIFO, not a regular file" -- timeout 20 "$KILN" info "$WORK/fifo"
expect_error quantize-fifo "fifo: is a FIFO, not a regular file" -- \
  timeout 20 "$KILN" quantize "$WORK/fifo" "$WORK/out.gguf" q8_0
[ -e "$WORK/out.gguf" ] && fail "quantize of a FIFO wrote an output"

# Threads: a usage error naming the flag and its range, not bad_alloc.
for threads in 0 4294967295 -1; do
  expect_error "quantize-t$threads" "--threads: Value $threads not in range 1 to 1024" -- \
    "$KILN" quantize "$model" "$WORK/q.gguf" q4_0 -t "$threads"
  expect_error "synth-t$threads" "--threads: Value $threads not in range 1 to 1024" -- \
    "$KILN" synth --preset tiny -o "$WORK/s.gguf" --vocab "$model" -t "$threads"
done
[ -e "$WORK/q.gguf" ] || [ -e "$WORK/s.gguf" ] && fail "a refused command wrote its output"
finish
