# Checks two `kiln compile --emit plan` outputs: the first (fused) needs a
# smaller activation arena than the second (unfused), and each arena is no
# larger than its buffers without reuse. Not a test by itself (lit runs
# only .test and .mlir files).
import re
import sys


def totals(path):
    text = open(path).read()
    arena = int(re.search(r"^arena bytes: (\d+)", text, re.M).group(1))
    unshared = int(re.search(r"^without reuse bytes: (\d+)", text, re.M).group(1))
    return arena, unshared


fused, unfused = totals(sys.argv[1]), totals(sys.argv[2])
for name, (arena, unshared) in (("fused", fused), ("unfused", unfused)):
    if not 0 < arena <= unshared:
        sys.exit(f"{name}: arena {arena} bytes, without reuse {unshared}")
if not fused[0] < unfused[0]:
    sys.exit(f"fused arena {fused[0]} bytes is not smaller than unfused {unfused[0]}")
print(f"arena fused {fused[0]} < unfused {unfused[0]} bytes")
