#!/usr/bin/env python3
"""Writes the seed corpus of the artifact reader fuzzer (tests/fuzz/
artifact-corpus): small artifacts in format version 2 (runtime/artifact/
Artifact.h), three valid (cpu, opencl, cuda), the others each broken in one way."""
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


def artifact(sections, version=2):
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


def weight_index(entries):
    out = struct.pack("<Q", len(entries))
    for index, offset, size in entries:
        out += struct.pack("<IQQ", index, offset, size)
    return out


def opencl_module(names):
    out = string("__kernel void k() {}") + string("-cl-std=CL1.2")
    out += struct.pack("<Q", len(names))
    for name in names:
        out += string(name) + struct.pack("<IIqB", 3, 64, 4, 0)
    return out


def cuda_module(names, arch="sm_80", args=3):
    out = string("//\n.version 7.0\n.target sm_80\n.address_size 64\n") + string(arch)
    out += struct.pack("<Q", len(names))
    for name in names:
        out += string(name) + struct.pack("<IqqI", args, 0, 1, 64)
    return out


def main():
    folder = os.path.join(HERE, "artifact-corpus")
    os.makedirs(folder, exist_ok=True)
    meta = meta_bytes([("target", "cpu"), ("cpu", "x86-64-v3"), ("gguf_path", "/m.gguf")])
    tasks = struct.pack("<Q", 2) + struct.pack("<qq", 0, 1) + struct.pack("<qq", 4, 0)
    code = b"\x7fELF" + bytes(60)
    gguf_meta = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)  # no metadata, no tensors
    weights = bytes(range(200))
    head = [("meta", meta), ("plan", plan_bytes()), ("gguf.meta", gguf_meta)]
    stored = [("weights.index", weight_index([(1, 0, len(weights))])), ("weights", weights)]
    valid = head + [("cpu.tasks", tasks), ("cpu.so", code)] + stored
    ocl_meta = meta_bytes([("target", "opencl"), ("gguf_path", "/m.gguf")])
    ocl = [("meta", ocl_meta)] + head[1:]
    cuda = [("meta", meta_bytes([("target", "cuda"), ("gguf_path", "/m.gguf")]))] + head[1:]
    kernels = ["kiln_0_embedding", "kiln_1_matmul"]
    seeds = {
        "valid": artifact(valid),
        "valid_opencl": artifact(ocl + [("opencl.module",
                                         opencl_module(["kiln_0_embedding", "kiln_1_matmul"]))]),
        "no_code": artifact(head),
        "version_1": artifact(valid, version=1),
        "short_plan": artifact([("meta", meta), ("plan", plan_bytes()[:-9])] + valid[2:]),
        "bad_tasks": artifact(head + [("cpu.tasks", tasks[:-8]), ("cpu.so", code)]),
        "no_gguf_meta": artifact([s for s in valid if s[0] != "gguf.meta"]),
        "weight_past_end": artifact(valid[:-2] + [
            ("weights.index", weight_index([(1, 100, len(weights))])), ("weights", weights)]),
        "index_only": artifact(valid[:-1]),
        "weights_out_of_order": artifact(valid[:-2] + [
            ("weights.index", weight_index([(1, 0, 10), (0, 10, 10)])), ("weights", weights)]),
        "bad_opencl": artifact(ocl + [("opencl.module", opencl_module(["kiln_0_embedding"]))]),
        "valid_cuda": artifact(cuda + [("cuda.module", cuda_module(kernels))]),
        "bad_cuda_arch": artifact(cuda + [("cuda.module", cuda_module(kernels, "compute_80"))]),
        "no_cuda_module": artifact(cuda),
        "cuda_arg_count": artifact(cuda + [("cuda.module", cuda_module(kernels, args=4))]),
    }
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
