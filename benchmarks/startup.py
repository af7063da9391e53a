#!/usr/bin/env python3
"""Start-up of a model: the JIT with a cold and a warm kernel cache against
an AOT artifact (`kiln compile MODEL -o FILE.kiln`, which stores the weights
the target repacks) run by `kiln run` and by `kiln-run`, and against one
compiled with --repack-at-load (which repacks them at every load), as wall
time from process start to the first generated token
(`-p Hi -n 1`), medians over --rounds, the runs alternating. Prints a
Markdown table with kiln's own split (load, compile, weights) from
--timings.

usage: benchmarks/startup.py MODEL.gguf [--rounds 3] [--work DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILN = os.path.join(ROOT, "build", "bin", "kiln")
KILN_RUN = os.path.join(ROOT, "build", "bin", "kiln-run")


def timed(cmd, env):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"startup: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    timings = json.loads(done.stderr.strip().splitlines()[-1])
    return wall, timings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kiln-startup-")
    os.makedirs(work, exist_ok=True)
    cache = os.path.join(work, "cache")
    env = dict(os.environ, KILN_CACHE_DIR=cache)
    artifact = os.path.join(work, "model.kiln")
    start = time.perf_counter()
    subprocess.run([KILN, "compile", args.model, "-o", artifact], check=True,
                   capture_output=True, env=env)
    compile_wall = time.perf_counter() - start
    repacking = os.path.join(work, "model-repack-at-load.kiln")
    subprocess.run([KILN, "compile", args.model, "--repack-at-load", "-o", repacking],
                   check=True, capture_output=True, env=env)
    run = ["-p", "Hi", "-n", "1", "--timings"]
    rows = {"JIT, cold kernel cache": [], "JIT, warm kernel cache": [],
            "artifact, kiln run": [], "artifact, kiln-run": [],
            "artifact --repack-at-load, kiln-run": []}
    for _ in range(args.rounds):
        subprocess.run(["rm", "-rf", cache], check=True)
        rows["JIT, cold kernel cache"].append(timed([KILN, "run", args.model] + run, env))
        rows["JIT, warm kernel cache"].append(timed([KILN, "run", args.model] + run, env))
        rows["artifact, kiln run"].append(timed([KILN, "run", artifact] + run, env))
        rows["artifact, kiln-run"].append(timed([KILN_RUN, artifact] + run, env))
        rows["artifact --repack-at-load, kiln-run"].append(
            timed([KILN_RUN, repacking] + run, env))
    size = lambda path: os.path.getsize(path) / 2**20
    print(f"# start-up of {os.path.basename(args.model)} ({size(args.model):.0f} MiB), medians "
          f"of {args.rounds} rounds (kiln compile -o took {compile_wall:.2f} s; the artifact "
          f"is {size(artifact):.0f} MiB, with --repack-at-load {size(repacking):.1f} MiB)\n")
    print("| how | wall s to first token | load_s | compile_s | weights_s |")
    print("|---|---|---|---|---|")
    for name, samples in rows.items():
        med = lambda key: statistics.median(t[key] for _, t in samples)
        wall = statistics.median(w for w, _ in samples)
        print(f"| {name} | {wall:.2f} | {med('load_s'):.3f} | {med('compile_s'):.3f} | "
              f"{med('weights_s'):.3f} |")


if __name__ == "__main__":
    main()
