#!/usr/bin/env bash
# `kiln run --temp 0 --ids` continues llama.cpp's reference prompts with
# llama.cpp's greedy tokens (text in, ids out: tokenizer, compiler and
# runtime together), and bad runs fail with clear messages.
source "$(dirname "$0")/lib.sh" "$@"

check_greedy() { # folder model-substring required-tokens
  python3 - "$SHARED/$1" "$2" "$3" "$KILN" <<'PY' || fail "greedy $2"
import json, os, subprocess, sys
folder, name, required, kiln = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
path = os.path.join(folder, "reference", "greedy.json")
if not os.path.exists(path):
    path = os.path.join(folder, "greedy.json")
checked = 0
for case in json.load(open(path))["results"]:
    if name not in case["model"]:
        continue
    expected = case["greedy_ids"]
    out = subprocess.run([kiln, "run", os.path.join(folder, case["model"]),
                          "-p", case["prompt"], "-n", str(len(expected)),
                          "--temp", "0", "--ids", "-t", "2"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{case['model']}: {out.stderr}")
    got = [int(t) for t in out.stdout.split()]
    same = 0
    while same < min(len(got), len(expected)) and got[same] == expected[same]:
        same += 1
    print(f"{case['model']} {case['prompt']!r}: {same}/{len(expected)}")
    if same < min(required, len(expected)):
        sys.exit(f"{case['model']} {case['prompt']!r}: only {same} tokens equal")
    checked += 1
if checked == 0:
    sys.exit(f"no reference for {name}")
PY
}
check_greedy tinyshakes-llama llama-f32 64
check_greedy tinyshakes-llama llama-f16 64
check_greedy tinyshakes-llama q8_0 64
check_greedy llama-2-tiny-random tiny-random 24
check_greedy tinyshakes-gpt2 gpt2-f32 64

# The bundled model runs with no MODEL argument and writes Shakespeare-ish
# text; timings come as one JSON line.
"$KILN" run -p "ROMEO:" -n 24 --temp 0 --timings >"$WORK/out" 2>"$WORK/err" ||
  fail "kiln run on the bundled model"
grep -q '[a-z]' "$WORK/out" || fail "no text generated"
python3 -c '
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
t = json.loads(line)
for key in ("load_s", "compile_s", "weights_s", "n_prompt", "prefill_tok_s", "n_gen",
            "decode_tok_s", "activation_bytes"):
    assert key in t, key
assert t["n_gen"] == 24 and t["n_prompt"] == 3, t
assert t["activation_bytes"] > 0 and t["activation_bytes"] % 64 == 0, t
' "$WORK/err" || fail "timings JSON"

expect_error context "does not fit the 8-token context" -- \
  "$KILN" run -p "ROMEO: a prompt that is longer than eight tokens" -c 8
expect_error big-context "exceeds the model's 256-token context" -- \
  "$KILN" run -p "ROMEO:" -c 100000
expect_error missing "cannot open" -- "$KILN" run "$WORK/none.gguf" -p hi
finish
