#!/usr/bin/env bash
# `kiln convert` on the shared Hugging Face checkpoints gives llama.cpp's
# files; hostile checkpoints (built here with Python's standard library)
# are refused with a clear error, nothing executed, no file left behind.
source "$(dirname "$0")/lib.sh" "$@"
llama="$SHARED/tinyshakes-llama"
gpt2="$SHARED/tinyshakes-gpt2"

# A folder named like the one llama.cpp converted (general.name), holding
# one weight file at a time.
make_folder() { # SRC DEST LEAVE_OUT
  mkdir -p "$2"
  for f in "$1"/*; do
    [ "$(basename "$f")" = "$3" ] || ln -s "$f" "$2/"
  done
}
make_folder "$llama/hf" "$WORK/st/tinyshakes-llama" pytorch_model.bin
make_folder "$llama/hf" "$WORK/bin/tinyshakes-llama" model.safetensors

for type in f32 f16; do
  for src in st bin; do
    "$KILN" convert "$WORK/$src/tinyshakes-llama" -o "$WORK/llama-$src-$type.gguf" \
      --outtype "$type" 2>"$WORK/err" || { fail "convert $src $type"; cat "$WORK/err" >&2; }
    cmp -s "$WORK/llama-$src-$type.gguf" "$llama/tinyshakes-llama-$type.gguf" ||
      fail "llama $type from $src differs from llama.cpp's file"
  done
done
grep -q "39/39 tensors" "$WORK/err" || fail "no progress line: $(cat "$WORK/err")"

ours=$("$KILN" tokenize "$WORK/llama-st-f16.gguf" --ids "ROMEO: my lord")
theirs=$("$KILN" tokenize "$llama/tinyshakes-llama-f16.gguf" --ids "ROMEO: my lord")
[ "$ours" = "$theirs" ] || fail "tokenize: $ours vs $theirs"

# With the compiler built in, greedy text on our file equals that on theirs.
if "$KILN" help run >/dev/null 2>&1; then
  a=$("$KILN" run "$WORK/llama-st-f16.gguf" -p "ROMEO:" -n 32 --temp 0 2>/dev/null)
  b=$("$KILN" run "$llama/tinyshakes-llama-f16.gguf" -p "ROMEO:" -n 32 --temp 0 2>/dev/null)
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "greedy text differs: '$a' vs '$b'"
fi

"$KILN" convert "$gpt2/hf" -o "$WORK/gpt2.gguf" --outtype f32 2>/dev/null ||
  fail "convert gpt2"
ours=$("$KILN" tokenize "$WORK/gpt2.gguf" --ids "ROMEO: my lord")
theirs=$("$KILN" tokenize "$gpt2/tinyshakes-gpt2-f32.gguf" --ids "ROMEO: my lord")
[ "$ours" = "$theirs" ] || fail "gpt2 tokenize: $ours vs $theirs"

# Hostile inputs.
python3 - "$WORK" "$llama/hf" <<'PY' || fail "fixture generator"
import json, os, pickle, shutil, struct, sys, zipfile
work, hf = sys.argv[1], sys.argv[2]

def folder(name, weights):
    d = os.path.join(work, name)
    os.makedirs(d)
    for f in ("config.json", "tokenizer.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(hf, f), d)
    for fname, data in weights.items():
        with open(os.path.join(d, fname), "wb") as out:
            out.write(data)
    return d

class Evil:  # pickling this records a call of os.system; never run here
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(work, "PWNED"),))

evil = pickle.dumps({"model.embed_tokens.weight": Evil()}, protocol=2)
buf = os.path.join(work, "evil.zip")
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", evil)
folder("evil", {"pytorch_model.bin": open(buf, "rb").read()})

with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
folder("deflated", {"pytorch_model.bin": open(buf, "rb").read()})

good = open(os.path.join(hf, "model.safetensors"), "rb").read()
folder("truncated", {"model.safetensors": good[: len(good) // 2]})
folder("longheader", {"model.safetensors": struct.pack("<Q", 1 << 40) + good[8:100]})
n = struct.unpack("<Q", good[:8])[0]
header = json.loads(good[8 : 8 + n])
header["model.layers.0.input_layernorm.weight"]["data_offsets"][1] += 4
h = json.dumps(header).encode()
folder("mismatch", {"model.safetensors": struct.pack("<Q", len(h)) + h + good[8 + n :]})
d = folder("arch", {"model.safetensors": good})
cfg = json.load(open(os.path.join(d, "config.json")))
cfg["architectures"] = ["MambaForCausalLM"]
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
header = json.loads(good[8 : 8 + n])
del header["model.layers.2.mlp.up_proj.weight"]
h = json.dumps(header).encode()
folder("missing", {"model.safetensors": struct.pack("<Q", len(h)) + h + good[8 + n :]})
# 200k levels of nesting (a 400 KB header) once overflowed the stack.
h = b"[" * 200000 + b"]" * 200000
folder("deep", {"model.safetensors": struct.pack("<Q", len(h)) + h})

# config.json values kiln's loader would refuse in the written file.
def bad_config(name, edit):
    d = folder(name, {"model.safetensors": good})
    cfg = json.load(open(os.path.join(d, "config.json")))
    edit(cfg)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
bad_config("ctx0", lambda c: c.update(max_position_embeddings=0))
bad_config("ctxmissing", lambda c: c.pop("max_position_embeddings"))
bad_config("eps", lambda c: c.update(rms_norm_eps=-1))
bad_config("theta", lambda c: c.update(rope_theta=0))
bad_config("factor", lambda c: c.update(rope_scaling={"type": "linear", "factor": 0}))
bad_config("nofactor", lambda c: c.update(rope_scaling={"type": "linear"}))
PY

# config.json that is not a regular file: refused at once, never waited on.
mkdir -p "$WORK/cfgdir/config.json" "$WORK/cfgfifo"
mkfifo "$WORK/cfgfifo/config.json"
expect_error cfgdir "cfgdir/config.json: the JSON file is a directory, not a regular file" -- \
  timeout 20 "$KILN" convert "$WORK/cfgdir" -o "$WORK/out.gguf"
expect_error cfgfifo "cfgfifo/config.json: the JSON file is a FIFO, not a regular file" -- \
  timeout 20 "$KILN" convert "$WORK/cfgfifo" -o "$WORK/out.gguf"
expect_error deep "model.safetensors: the header nests deeper than 64 levels (at byte 72)" -- \
  "$KILN" convert "$WORK/deep" -o "$WORK/out.gguf"
expect_error ctx0 "config.json: field 'max_position_embeddings' is 0, out of range \[1, 16777216\]" -- \
  "$KILN" convert "$WORK/ctx0" -o "$WORK/out.gguf"
expect_error ctxmissing "config.json: field 'max_position_embeddings' or 'n_ctx' is missing (kiln needs llama.context_length)" -- \
  "$KILN" convert "$WORK/ctxmissing" -o "$WORK/out.gguf"
expect_error eps "config.json: field 'rms_norm_eps' is -1, a negative number" -- \
  "$KILN" convert "$WORK/eps" -o "$WORK/out.gguf"
expect_error theta "config.json: field 'rope_theta' is 0, not a positive number" -- \
  "$KILN" convert "$WORK/theta" -o "$WORK/out.gguf"
expect_error factor "config.json: field 'rope_scaling.factor' is 0, not a positive number" -- \
  "$KILN" convert "$WORK/factor" -o "$WORK/out.gguf"
expect_error nofactor "config.json: field 'rope_scaling.factor' is missing or not a number" -- \
  "$KILN" convert "$WORK/nofactor" -o "$WORK/out.gguf"

expect_error evil "global 'posix.system' is not allowed" -- \
  "$KILN" convert "$WORK/evil" -o "$WORK/out.gguf"
[ ! -e "$WORK/PWNED" ] || fail "the pickle ran a command"
expect_error deflated "is compressed (method 8)" -- \
  "$KILN" convert "$WORK/deflated" -o "$WORK/out.gguf"
expect_error truncated "model.safetensors: tensor '.*': data_offsets .* lie outside the data" -- \
  "$KILN" convert "$WORK/truncated" -o "$WORK/out.gguf"
expect_error longheader "header length 1099511627776 runs past the end" -- \
  "$KILN" convert "$WORK/longheader" -o "$WORK/out.gguf"
expect_error mismatch "tensor 'model.layers.0.input_layernorm.weight': dtype F32 and shape \[256\] need 1024 bytes" -- \
  "$KILN" convert "$WORK/mismatch" -o "$WORK/out.gguf"
expect_error arch "architecture 'MambaForCausalLM' is not supported" -- \
  "$KILN" convert "$WORK/arch" -o "$WORK/out.gguf"
expect_error missing "tensor 'model.layers.2.mlp.up_proj.weight' is missing" -- \
  "$KILN" convert "$WORK/missing" -o "$WORK/out.gguf"
expect_error outtype "not one of f32, f16, bf16, q8_0" -- \
  "$KILN" convert "$llama/hf" -o "$WORK/out.gguf" --outtype q4_0
[ ! -e "$WORK/out.gguf" ] || fail "a failed convert left its output"
ls -a "$WORK" | grep -q "tmp" && fail "a temporary file was left behind"
finish
