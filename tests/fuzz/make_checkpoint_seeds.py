#!/usr/bin/env python3
"""Writes the seed corpus of the checkpoint fuzzer (standard library only).

usage: make_checkpoint_seeds.py SHARED_MODELS_DIR OUT_DIR
Each seed is one selector byte (0 safetensors, 1 pickle, 2 torch zip,
3 SentencePiece) followed by the parser's input.
"""
import json, os, struct, sys, zipfile, io

shared, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def seed(name, selector, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([selector]) + data)

header = {"__metadata__": {"format": "pt"},
          "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
          "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
          "c": {"dtype": "BF16", "shape": [1], "data_offsets": [22, 24]}}
h = json.dumps(header).encode()
seed("safetensors", 0, struct.pack("<Q", len(h)) + h + bytes(range(24)))

# A real torch.save pickle (GPT-2's state dict) and a small archive built
# around a hand-written one.
with zipfile.ZipFile(os.path.join(shared, "tinyshakes-gpt2/hf/pytorch_model.bin")) as z:
    name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    real = z.read(name)
seed("pickle_gpt2", 1, real)

def storage(key, numel):
    return (b"(X\x07\x00\x00\x00storage" + b"ctorch\nFloatStorage\n" +
            b"X" + struct.pack("<I", len(key)) + key.encode() +
            b"X\x03\x00\x00\x00cpu" + b"K" + bytes([numel]) + b"tQ")

rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n"
pkl = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(" +
       b"X\x01\x00\x00\x00t" + rebuild + b"(" + storage("0", 6) +
       b"K\x00K\x02K\x03\x86K\x01K\x02\x86\x89h\x00)RtR" + b"u.")
seed("pickle_small", 1, pkl)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", pkl)
    z.writestr("archive/byteorder", b"little")
    z.writestr("archive/data/0", struct.pack("<6f", 0, 1, 2, 3, 4, 5))
seed("torch_zip", 2, buf.getvalue())

with open(os.path.join(shared, "tinyshakes-llama/hf/tokenizer.model"), "rb") as f:
    seed("sentencepiece", 3, f.read())
