#!/usr/bin/env bash
# --numerics fast (the default) against --numerics exact (llama.cpp's AVX2
# arithmetic bit for bit), on every shared model in every type: KL
# divergence from the f32 model (kiln perplexity --kl-base) at most 1.05x
# the exact mode's, and top-1 agreement with it at least the exact mode's
# minus half a point. The table goes to the test output. (Greedy ids under
# the default mode against llama.cpp's for 64 tokens in f32 and f16:
# run_greedy.sh.)
source "$(dirname "$0")/lib.sh" "$@"
head -c 24000 "$SHARED/tinyshakes-llama/val.txt" >"$WORK/text.txt"
python3 - "$KILN" "$SHARED" "$WORK" <<'PY' || fail "fast numerics less accurate than exact"
import json, os, subprocess, sys
kiln, shared, work = sys.argv[1:4]
models = [("tinyshakes-llama", t) for t in (
    "f16", "q8_0", "q6_k", "q5_k_m", "q5_1", "q5_0", "q4_k_m", "q4_1", "q4_0",
    "q3_k_m", "q2_k")] + [("tinyshakes-gpt2", t) for t in ("f16", "q8_0", "q4_0")]
def measure(folder, t, numerics):
    base = os.path.join(shared, folder, f"{folder}-f32.gguf")
    out = subprocess.run([kiln, "perplexity", os.path.join(shared, folder, f"{folder}-{t}.gguf"),
                          "-f", os.path.join(work, "text.txt"), "-c", "128", "-t", "2",
                          "--kl-base", base, "--numerics", numerics, "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{folder} {t} --numerics {numerics}: {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])
bad = []
print(f"{'model':<24}{'KL exact':>12}{'KL fast':>12}{'ratio':>8}{'top1 exact':>12}{'top1 fast':>11}")
for folder, t in models:
    exact, fast = measure(folder, t, "exact"), measure(folder, t, "fast")
    ratio = fast["kl_mean"] / exact["kl_mean"] if exact["kl_mean"] > 0 else 1.0
    print(f"{folder[11:] + ' ' + t:<24}{exact['kl_mean']:>12.6f}{fast['kl_mean']:>12.6f}"
          f"{ratio:>8.3f}{100 * exact['top1_agreement']:>11.2f}%{100 * fast['top1_agreement']:>10.2f}%")
    if fast["kl_mean"] > 1.05 * exact["kl_mean"]:
        bad.append(f"{folder} {t}: KL {fast['kl_mean']} > 1.05 x {exact['kl_mean']}")
    if fast["top1_agreement"] < exact["top1_agreement"] - 0.005:
        bad.append(f"{folder} {t}: top-1 {fast['top1_agreement']} < {exact['top1_agreement']} - 0.005")
if bad:
    sys.exit("\n".join(bad))
PY
finish
