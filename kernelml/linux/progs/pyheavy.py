"""A dict/list/string-heavy Python program (memory-trace workload ``python``).

Usage: ``python -I -S pyheavy.py ITEMS ROUNDS SEED``.  Standard library
only (it runs under valgrind).  It first touches the start-marker page
(see :mod:`kernelml.linux.memcapture`), then works.  Per round: build a dict of ``ITEMS``
string keys to small lists, update a random subset, group the values by a
derived key, sort the groups, join strings, and drop half of the dict
(the allocator reuses the freed memory in the next round).
"""

import random
import sys

MARKER_ADDR = 0x6B6D6C000000  # kernelml.linux.memcapture.MARKER_ADDR


def touch_marker() -> None:
    """Write one byte to a page mapped at MARKER_ADDR: the trace converter
    starts recording at that access (the interpreter's start-up is over)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                          ctypes.c_long]
    map_fixed_noreplace = 0x100000
    addr = libc.mmap(MARKER_ADDR, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | map_fixed_noreplace, -1, 0)
    if addr != MARKER_ADDR:
        raise SystemExit(f"cannot map the start marker at {MARKER_ADDR:#x}")
    ctypes.memset(addr, 1, 1)


def main() -> int:
    items, rounds, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    touch_marker()
    rng = random.Random(seed)
    keep = {}
    total = 0
    for r in range(rounds):
        d = {f"key-{r}-{i:07d}": [i, i * 3 % 101, str(i)] for i in range(items)}
        keys = list(d)
        for k in rng.sample(keys, items // 4):
            d[k].append(rng.random())
        groups = {}
        for k, v in d.items():
            groups.setdefault(v[1], []).append(k)
        for g in groups.values():
            g.sort(reverse=True)
        text = ",".join(groups[0][:1000])
        total += len(text) + sum(len(v) for v in d.values())
        for k in keys[::2]:
            del d[k]
        keep[r] = d
        if len(keep) > 2:
            keep.pop(min(keep))
    print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
