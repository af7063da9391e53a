#!/usr/bin/env python3
"""Writes the small hand-made seed files of the GGUF reader fuzzer into
tests/fuzz/corpus/. Each exercises a part of the format: every value type,
nested arrays, several tensor types, a custom alignment."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def s(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv(key, type_id, payload):
    return s(key) + struct.pack("<I", type_id) + payload


def tensor(name, dims, type_id, offset):
    out = s(name) + struct.pack("<I", len(dims))
    for d in dims:
        out += struct.pack("<Q", d)
    return out + struct.pack("<IQ", type_id, offset)


def gguf(kvs, tensors, data, alignment=32, version=3):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    out += b"".join(kvs) + b"".join(tensors)
    out += b"\0" * (-len(out) % alignment)
    return out + data


def write(name, blob):
    with open(os.path.join(HERE, "corpus", name), "wb") as f:
        f.write(blob)


all_values = [
    kv("general.architecture", 8, s("llama")),
    kv("u8", 0, struct.pack("<B", 7)), kv("i8", 1, struct.pack("<b", -7)),
    kv("u16", 2, struct.pack("<H", 700)), kv("i16", 3, struct.pack("<h", -700)),
    kv("u32", 4, struct.pack("<I", 70000)), kv("i32", 5, struct.pack("<i", -7)),
    kv("f32", 6, struct.pack("<f", 0.5)), kv("bool", 7, b"\1"),
    kv("u64", 10, struct.pack("<Q", 1 << 40)),
    kv("i64", 11, struct.pack("<q", -(1 << 40))),
    kv("f64", 12, struct.pack("<d", 0.25)),
    kv("tokens", 9, struct.pack("<IQ", 8, 3) + s("<s>") + s("a") + s("b")),
    kv("nested", 9, struct.pack("<IQ", 9, 2) + struct.pack("<IQ", 4, 1)
       + struct.pack("<I", 5) + struct.pack("<IQ", 7, 2) + b"\1\0"),
]
# f32 [4, 2] at 0; q8_0 [32] at 32; q4_K [256] at 96; q6_K [256] at 256.
tensors = [tensor("a", [4, 2], 0, 0), tensor("b", [32], 8, 32),
           tensor("c", [256], 12, 96), tensor("d", [256], 14, 256)]
data = struct.pack("<8f", *range(8)) + b"\0" * 0
data += b"\0" * (32 - len(data))
data += b"\x00\x3c" + bytes(range(32)) + b"\0" * 30  # q8_0, d = 1.0
data += b"\x00\x3c\x00\x38" + bytes(range(12)) + bytes(128) + b"\0" * 16
data += bytes(range(128)) + bytes(64) + bytes(range(16)) + b"\x00\x3c"
data += b"\0" * (-len(data) % 32)
write("all_value_types.gguf", gguf(all_values, tensors, data))
write("alignment_64.gguf", gguf(
    [kv("general.alignment", 4, struct.pack("<I", 64))],
    [tensor("x", [32], 1, 0), tensor("y", [32], 30, 64)],
    bytes(64) + bytes(64), alignment=64))
write("version2_no_tensors.gguf", gguf([kv("k", 8, s("v"))], [], b"", version=2))
