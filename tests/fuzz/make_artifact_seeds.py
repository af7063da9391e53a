#!/usr/bin/env python3
"""Writes the seed corpus of the artifact reader fuzzer (tests/fuzz/
artifact-corpus): small artifacts in format version 1 (runtime/artifact/
Artifact.h), one valid, the others each broken in one way."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def plan_bytes():
    out = struct.pack("<Q", 2) + string("kiln_0_embedding") + string("kiln_1_matmul")
    out += struct.pack("<Q", 2) + string("token_embd.weight") + b"\0"
    out += string("output.weight") + b"\1"
    out += struct.pack("<Q", 2)
    out += struct.pack("<qIBB", 64, 4, 0, 1) + struct.pack("<qIBB", 100, 4, 1, 1)
    out += struct.pack("<qqIqq", 1, 64, 2, 128, 100)
    for _ in range(2):  # prefill, decode
        out += struct.pack("<Q", 2)
        out += struct.pack("<IB", 0, 0) + string("embed") + struct.pack("<Q", 3)
        out += struct.pack("<BI", 1, 0) + struct.pack("<BI", 0, 0) + struct.pack("<BI", 2, 0)
        out += struct.pack("<IB", 1, 1) + string("output") + struct.pack("<Q", 3)
        out += struct.pack("<BI", 2, 0) + struct.pack("<BI", 1, 1) + struct.pack("<BI", 2, 1)
        out += struct.pack("<IB", 1, 0)
    return out


def meta_bytes(pairs):
    out = struct.pack("<Q", len(pairs))
    for k, v in pairs:
        out += string(k) + string(v)
    return out


def artifact(sections, version=1):
    head = b"KILNAOT\0" + struct.pack("<II", version, len(sections))
    offset = 16 + 64 * len(sections)
    table = b""
    for name, body in sections:
        offset = (offset + 4095) // 4096 * 4096
        table += name.encode().ljust(16, b"\0") + struct.pack("<QQ", offset, len(body))
        table += hashlib.sha256(body).digest()
        offset += len(body)
    out = bytearray(head + table)
    offset = 16 + 64 * len(sections)
    for name, body in sections:
        offset = (offset + 4095) // 4096 * 4096
        out += b"\0" * (offset - len(out))
        out += body
        offset += len(body)
    return bytes(out)


def main():
    folder = os.path.join(HERE, "artifact-corpus")
    os.makedirs(folder, exist_ok=True)
    meta = meta_bytes([("target", "cpu"), ("cpu", "x86-64-v3"), ("gguf_path", "/m.gguf")])
    tasks = struct.pack("<Q", 2) + struct.pack("<qq", 0, 1) + struct.pack("<qq", 4, 0)
    code = b"\x7fELF" + bytes(60)
    valid = [("meta", meta), ("plan", plan_bytes()), ("cpu.tasks", tasks), ("cpu.so", code)]
    seeds = {
        "valid": artifact(valid),
        "no_code": artifact(valid[:2]),
        "version_2": artifact(valid, version=2),
        "short_plan": artifact([("meta", meta), ("plan", plan_bytes()[:-9])] + valid[2:]),
        "bad_tasks": artifact(valid[:2] + [("cpu.tasks", tasks[:-8])] + valid[3:]),
    }
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
