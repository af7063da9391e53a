#!/usr/bin/env python3
"""Makes broken copies of a GGUF file for the hostile-input tests, written
from the GGUF specification (little-endian, version 2/3).

usage: gguf_patch.py IN OUT set-u32 KEY VALUE      (a uint32 metadata value)
       gguf_patch.py IN OUT fill-tensor NAME VALUE (every f32 element; VALUE
                                                    may be nan, inf, -inf)
The copy has the same size as the original: only bytes in place change.
"""
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        value = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value[0] if len(value) == 1 else value

    def string(self):
        n = self.take("Q")
        text = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return text

    def skip_value(self, kind):
        if kind in SCALAR:
            self.pos += SCALAR[kind]
        elif kind == STRING:
            self.string()
        elif kind == ARRAY:
            inner, count = self.take("I"), self.take("Q")
            for _ in range(count):
                self.skip_value(inner)
        else:
            raise SystemExit(f"unknown GGUF value type {kind}")


def parse(data):
    r = Reader(data)
    magic, version = r.take("4s"), r.take("I")
    if magic != b"GGUF" or version not in (2, 3):
        raise SystemExit("not a GGUF v2/v3 file")
    tensors_count, kv_count = r.take("Q"), r.take("Q")
    keys, alignment = {}, 32
    for _ in range(kv_count):
        key = r.string()
        kind = r.take("I")
        keys[key] = (kind, r.pos)
        if key == "general.alignment" and kind == 4:
            alignment = struct.unpack_from("<I", data, r.pos)[0]
        r.skip_value(kind)
    tensors = {}
    for _ in range(tensors_count):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        ggml_type, offset = r.take("I"), r.take("Q")
        tensors[name] = (dims, ggml_type, offset)
    data_start = (r.pos + alignment - 1) // alignment * alignment
    return keys, tensors, data_start


def main():
    src, dst, command, name, value = sys.argv[1:6]
    data = bytearray(open(src, "rb").read())
    keys, tensors, data_start = parse(bytes(data))
    if command == "set-u32":
        kind, pos = keys[name]
        if kind != 4:
            raise SystemExit(f"{name} is not a uint32 (type {kind})")
        struct.pack_into("<I", data, pos, int(value))
    elif command == "fill-tensor":
        dims, ggml_type, offset = tensors[name]
        if ggml_type != 0:
            raise SystemExit(f"{name} is not f32 (type {ggml_type})")
        count = 1
        for d in dims:
            count *= d
        struct.pack_into(f"<{count}f", data, data_start + offset, *([float(value)] * count))
    else:
        raise SystemExit(f"unknown command {command}")
    open(dst, "wb").write(data)


if __name__ == "__main__":
    main()
