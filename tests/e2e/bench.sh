#!/usr/bin/env bash
# `kiln bench` on the bundled model: the JSON has the keys scripts rely on,
# with positive numbers; --plot writes a well-formed SVG with one bar group
# per configuration; bad input fails with a message naming the option or
# file and leaves no file behind. No speed is checked: only that the
# measurements exist and are sane (positive, percentages adding up).
source "$(dirname "$0")/lib.sh" "$@"
MODEL=$(cd "$(dirname "$0")/../.." && pwd)/models/tinyshakes-llama-q8_0.gguf

# --compare-fusion --json --plot.
if "$KILN" bench "$MODEL" -p 16 -n 4 -r 1 -t 2 --compare-fusion --json \
    --plot "$WORK/bench.svg" >"$WORK/compare.json" 2>"$WORK/err"; then
  python3 - "$WORK/compare.json" "$WORK/bench.svg" <<'PY' || fail "compare-fusion output"
import json, sys, xml.dom.minidom
report = json.load(open(sys.argv[1]))
def positive(obj, key, where):
    value = obj[key]
    assert isinstance(value, (int, float)) and value > 0, (where, key, value)
def check_config(config, where):
    for key in ("prefill_tok_s", "decode_tok_s", "prefill_tok_s_min", "prefill_tok_s_max",
                "decode_tok_s_min", "decode_tok_s_max", "activation_bytes",
                "kv_cache_bytes", "weight_bytes_per_token", "decode_roofline_tok_s",
                "roofline_fraction", "prefill_vs_unfused", "decode_vs_unfused"):
        positive(config, key, where)
    assert config["compile_s"] >= 0, where
    assert config["prefill_tok_s_min"] <= config["prefill_tok_s"] <= config["prefill_tok_s_max"]
    assert len(config["prefill_tok_s_runs"]) == 1 and len(config["decode_tok_s_runs"]) == 1
    for phase in ("prefill", "decode"):
        shares = config["breakdown"][phase]
        assert shares, (where, phase)
        assert abs(sum(s["percent"] for s in shares) - 100) < 0.01, (where, phase, shares)
        assert all(s["calls"] > 0 and s["kernel"] for s in shares), (where, phase)
check_config(report["fused"], "fused")
check_config(report["unfused"], "unfused")
passes = report["passes"]
assert len(passes) >= 1, passes
for name, config in passes.items():
    check_config(config, name)
    positive(config, "fused_prefill_vs_without", name)
    positive(config, "fused_decode_vs_without", name)
positive(report["ratios"], "prefill_fused_vs_unfused", "ratios")
positive(report["ratios"], "decode_fused_vs_unfused", "ratios")
for key in ("peak_rss_bytes", "read_bandwidth_gb_s"):
    positive(report, key, "top level")
assert report["prompt_tokens"] == 16 and report["decode_tokens"] == 4 and report["threads"] == 2

svg = xml.dom.minidom.parse(sys.argv[2])
groups = [g for g in svg.getElementsByTagName("g") if g.getAttribute("class") == "bar-group"]
names = ["fused", "unfused"] + ["without " + name for name in passes]
assert len(groups) == len(names), (len(groups), names)
for group, name in zip(groups, names):
    bars = [r for r in group.getElementsByTagName("rect") if r.getAttribute("class") == "bar"]
    assert len(bars) == 2, name  # prefill and decode
    assert all(float(r.getAttribute("height")) > 0 for r in bars), name
    labels = [t.firstChild.data for t in group.getElementsByTagName("text")
              if t.getAttribute("class") == "group-label"]
    assert labels == [name], (labels, name)
legend = [t.firstChild.data for g in svg.getElementsByTagName("g")
          if g.getAttribute("class") == "legend" for t in g.getElementsByTagName("text")]
assert legend == ["prefill", "decode"], legend
PY
  if command -v xmllint >/dev/null; then
    xmllint --noout "$WORK/bench.svg" || fail "xmllint rejects the chart"
  fi
  [ -z "$(ls "$WORK" | grep '\.tmp\.')" ] || fail "a temporary file was left: $(ls "$WORK")"
else
  fail "compare-fusion run: $(cat "$WORK/err")"
fi

# One configuration, chosen by the shared compile flags: a flat object.
check_single() { # expected-configuration flags...
  local expected=$1
  shift
  "$KILN" bench "$MODEL" -p 8 -n 2 -r 2 -t 1 --json "$@" >"$WORK/single.json" \
    2>"$WORK/err" || { fail "bench $*: $(cat "$WORK/err")"; return; }
  python3 - "$WORK/single.json" "$expected" <<'PY' || fail "bench $*: $(cat "$WORK/single.json")"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["configuration"] == sys.argv[2], report["configuration"]
for key in ("prefill_tok_s", "decode_tok_s", "read_bandwidth_gb_s", "roofline_fraction",
            "peak_rss_bytes", "activation_bytes", "kv_cache_bytes", "weight_bytes_per_token"):
    assert report[key] > 0, key
assert len(report["decode_tok_s_runs"]) == 2
assert "fused" not in report and "passes" not in report
PY
}
check_single fused
check_single unfused --no-fuse
check_single "without kiln-fuse-qkv" --disable-pass kiln-fuse-qkv

# The default -p 512 -n 128 shrink to fit the model's 256-token context.
if "$KILN" bench "$MODEL" -r 1 -t 1 --json >"$WORK/default.json" 2>"$WORK/err"; then
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); \
assert (r["prompt_tokens"], r["decode_tokens"]) == (192, 64), r' "$WORK/default.json" ||
    fail "default sizes: $(head -c 300 "$WORK/default.json")"
  grep -q "to fit the 256-token context" "$WORK/err" || fail "no note on the shrunk sizes"
else
  fail "default run: $(cat "$WORK/err")"
fi

# The tables.
if "$KILN" bench "$MODEL" -p 8 -n 2 -r 1 -t 1 >"$WORK/table" 2>"$WORK/err"; then
  for line in "^prefill " "^decode " "^compile " "^bandwidth .* GB/s" "^roofline .* %" \
      "where the time goes"; do
    grep -q "$line" "$WORK/table" || fail "table lacks '$line': $(cat "$WORK/table")"
  done
else
  fail "table run: $(cat "$WORK/err")"
fi

# Bad input: clear errors, nothing written.
expect_error "missing model" "$WORK/none.gguf" -- \
  "$KILN" bench "$WORK/none.gguf" -p 8 -n 2
expect_error "empty prompt" "--prompt-tokens: Value 0 not in range 1 to" -- "$KILN" bench "$MODEL" -p 0 -n 2
expect_error "no decode" "--decode-tokens: Value -1 not in range 1 to" -- "$KILN" bench "$MODEL" -p 8 -n -1
expect_error "no repeats" "--repeats: Value 0 not in range 1 to 1000" -- "$KILN" bench "$MODEL" -p 8 -n 2 -r 0
expect_error "prompt past the context" "do not fit" -- \
  "$KILN" bench "$MODEL" -p 100000 -n 2 --plot "$WORK/never.svg"
expect_error "unknown pass" "no pass named 'kiln-nothing'" -- \
  "$KILN" bench "$MODEL" -p 8 -n 2 --disable-pass kiln-nothing
expect_error "compare with no-fuse" "leave out --no-fuse" -- \
  "$KILN" bench "$MODEL" -p 8 -n 2 --compare-fusion --no-fuse
expect_error "plot in a missing folder" "$WORK/missing/chart.svg" -- \
  "$KILN" bench "$MODEL" -p 8 -n 2 --plot "$WORK/missing/chart.svg"
expect_error "png plot" "SVG charts only" -- \
  "$KILN" bench "$MODEL" -p 8 -n 2 --plot "$WORK/chart.png"
expect_error "plot onto a folder" "is a directory" -- \
  "$KILN" bench "$MODEL" -p 8 -n 2 --plot "$WORK/"
expect_error "model error with a plot" "$WORK/none.gguf" -- \
  "$KILN" bench "$WORK/none.gguf" --plot "$WORK/never.svg"
[ ! -e "$WORK/never.svg" ] && [ ! -e "$WORK/chart.png" ] ||
  fail "a failed run wrote its chart"
[ -z "$(ls "$WORK" | grep '\.tmp\.')" ] || fail "a temporary file was left: $(ls "$WORK")"
finish
