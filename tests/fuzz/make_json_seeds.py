#!/usr/bin/env python3
"""Writes the seed corpus of the JSON header fuzzer (standard library only).

usage: make_json_seeds.py SHARED_MODELS_DIR OUT_DIR
Each seed is JSON text, then optionally a NUL byte and the tensor data a
safetensors header describes.
"""
import json, os, struct, sys

shared, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def seed(name, text, data=None):
    blob = text.encode() if isinstance(text, str) else text
    if data is not None:
        blob += b"\0" + data
    with open(os.path.join(out, name), "wb") as f:
        f.write(blob)

# A consistent header with its data, and the real header of the shared
# Llama checkpoint (its data left out: offsets past the end).
header = {"__metadata__": {"format": "pt"},
          "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
          "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
          "c": {"dtype": "BF16", "shape": [1], "data_offsets": [22, 24]}}
seed("header_small", json.dumps(header), bytes(range(24)))
with open(os.path.join(shared, "tinyshakes-llama/hf/model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    seed("header_llama", f.read(n))

for model in ("tinyshakes-llama", "tinyshakes-gpt2"):
    for name in ("config.json", "tokenizer_config.json"):
        with open(os.path.join(shared, model, "hf", name), "rb") as f:
            seed(model + "_" + name.replace(".json", ""), f.read())

# Nesting at the bound, one past it, and far past it (the 400 KB header
# that once overflowed the stack, cut to what -max_len lets through).
def nested(depth, open_, close, inner="1"):
    return open_ * depth + inner + close * depth
seed("depth_64", '{"a":' + nested(63, "[", "]") + "}")
seed("depth_65", '{"a":' + nested(64, "[", "]") + "}")
seed("depth_objects", nested(65, '{"a":', "}"))
seed("depth_20000", "[" * 20000)
# Brackets and escaped quotes inside strings do not nest.
seed("brackets_in_strings", json.dumps({"k": "[[[{{\"\\" * 40, "v": [1, 2.5, -3]}))
seed("unbalanced", "]]]}}}" + "[" * 70)
