#!/usr/bin/env python3
"""kiln against llama.cpp, side by side in one run, on the same GGUF files.

For each weight type, a TinyLlama-1.1B-shaped model (`kiln synth`, random
weights; Q4_K_M and bf16 through `kiln quantize` from the f16 one) is timed
by `kiln bench --json` and by llama.cpp's `llama-bench -o json`, the two
programs alternating, every round: prefill of each --prompts length and
decode of --decode tokens. The machine's read bandwidth comes from the same
kiln bench run, so decode is also reported as a fraction of the read
roofline (bandwidth / weight bytes read per token) for both programs.

LLAMA_CPP_BIN (or --llama-bin) names a llama.cpp build's bin folder: built
outside this repository with llama.cpp's default options. This script does
not build it. Prints a Markdown table (medians over the rounds) and, with
--json FILE, writes every sample.

usage: benchmarks/vs_llamacpp.py [--types f16,q8_0,...] [--prompts 128,512]
         [--decode 32] [--threads 2] [--scaling] [--rounds 2] [--work DIR]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.path.join(ROOT, "build", "bin", "kiln")
VOCAB = os.path.join(ROOT, "..", "shared", "models", "vocab", "ggml-vocab-llama-spm.gguf")
SYNTH_TYPES = {"f16", "f32", "q8_0", "q4_0"}


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"vs_llamacpp: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def model_for(work, kind):
    """The TinyLlama-shaped model in `kind`, made once in `work`."""
    path = os.path.join(work, f"tinyllama-{kind}.gguf")
    if os.path.exists(path):
        return path
    if kind in SYNTH_TYPES:
        run([KILN, "synth", "--preset", "tinyllama-1.1b", "--type", kind, "--vocab", VOCAB,
             "-o", path])
    else:
        run([KILN, "quantize", model_for(work, "f16"), path, kind.upper()])
    return path


def cpu_name():
    flags, name = set(), platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", "x86_64"):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                       "amx_int8", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(isa) or 'no AVX2'})"


def kiln_bench(model, prompt, decode, threads):
    out = json.loads(run([KILN, "bench", model, "-p", str(prompt), "-n", str(decode),
                          "-t", str(threads), "-r", "1", "--json"]))
    return {"prefill": out["prefill_tok_s"], "decode": out["decode_tok_s"],
            "roofline": out["decode_roofline_tok_s"],
            "bandwidth_gb_s": out["read_bandwidth_gb_s"]}


def llama_bench(binary, model, prompt, decode, threads):
    out = json.loads(run([binary, "-m", model, "-p", str(prompt), "-n", str(decode),
                          "-t", str(threads), "-r", "1", "-o", "json"]))
    result = {}
    for test in out:
        if test["n_gen"] == 0:
            result["prefill"] = test["avg_ts"]
        elif test["n_prompt"] == 0:
            result["decode"] = test["avg_ts"]
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-bin", default=os.environ.get("LLAMA_CPP_BIN"))
    ap.add_argument("--types", default="f16,q8_0,q4_0,q4_k_m")
    ap.add_argument("--prompts", default="128,512")
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scaling", action="store_true",
                    help="also 1 thread, for the 1 -> N thread scaling")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", default="/tmp/kiln-vs-llamacpp")
    ap.add_argument("--json", help="write every sample here")
    args = ap.parse_args()
    if not args.llama_bin:
        sys.exit("vs_llamacpp: set LLAMA_CPP_BIN (or --llama-bin) to a llama.cpp build's bin "
                 "folder, built outside the repository with its default options")
    llama = os.path.join(args.llama_bin, "llama-bench")
    if not os.access(llama, os.X_OK):
        sys.exit(f"vs_llamacpp: {llama}: not an executable llama-bench")
    if not os.access(KILN, os.X_OK):
        sys.exit(f"vs_llamacpp: {KILN}: build kiln first (scripts/build.sh)")
    os.makedirs(args.work, exist_ok=True)
    prompts = [int(p) for p in args.prompts.split(",")]
    threads = sorted({1, args.threads}) if args.scaling else [args.threads]

    samples = []  # (type, threads, metric, program, value)
    for kind in args.types.split(","):
        model = model_for(args.work, kind)
        for t in threads:
            for _ in range(args.rounds):
                for i, prompt in enumerate(prompts):
                    # Decode once per round (with the first prompt length).
                    decode = args.decode if i == 0 else 1
                    k = kiln_bench(model, prompt, decode, t)
                    l = llama_bench(llama, model, prompt, decode if i == 0 else 0, t)
                    samples.append((kind, t, f"pp{prompt}", "kiln", k["prefill"]))
                    samples.append((kind, t, f"pp{prompt}", "llama.cpp", l["prefill"]))
                    if i == 0:
                        samples.append((kind, t, f"tg{args.decode}", "kiln", k["decode"]))
                        samples.append((kind, t, f"tg{args.decode}", "llama.cpp",
                                        l["decode"]))
                        samples.append((kind, t, "roofline", "kiln", k["roofline"]))
                        samples.append((kind, t, "bandwidth", "kiln", k["bandwidth_gb_s"]))

    def median(kind, t, metric, program):
        values = [s[4] for s in samples if s[:4] == (kind, t, metric, program)]
        return statistics.median(values) if values else float("nan")

    print(f"# kiln vs llama.cpp, {time.strftime('%Y-%m-%d')}, {cpu_name()}, "
          f"medians of {args.rounds} alternating rounds (tok/s)\n")
    print("| type | threads | test | kiln | llama.cpp | kiln / llama.cpp | "
          "decode / read roofline kiln · llama.cpp |")
    print("|---|---|---|---|---|---|---|")
    for kind in args.types.split(","):
        for t in threads:
            metrics = [f"pp{p}" for p in prompts] + [f"tg{args.decode}"]
            roofline = median(kind, t, "roofline", "kiln")
            for metric in metrics:
                a, b = median(kind, t, metric, "kiln"), median(kind, t, metric, "llama.cpp")
                roof = (f"{a / roofline:.2f} · {b / roofline:.2f}"
                        if metric.startswith("tg") else "")
                print(f"| {kind} | {t} | {metric} | {a:.1f} | {b:.1f} | {a / b:.2f} | {roof} |")
    bandwidths = [s[4] for s in samples if s[2] == "bandwidth"]
    print(f"\nread bandwidth measured by kiln bench in the same run: "
          f"{statistics.median(bandwidths):.1f} GB/s (median)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(zip(("type", "threads", "test", "program", "tok_s"), s))
                       for s in samples], f, indent=1)


if __name__ == "__main__":
    main()
