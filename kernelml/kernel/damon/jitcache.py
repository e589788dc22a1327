"""Keep numba's on-disk cache of the DAMON model honest.

numba's ``cache=True`` revalidates a cached function against its own source
file only, but the sampling loop (ops.py) inlines the access loop
(vmscan.py) and the page primitives and constants (memory.py): when one of
those changes, the cached machine code of the callers would silently keep
the old behaviour.  At import we fingerprint every source file of this
package (name, size, mtime) and, when the fingerprint differs from the one
stored beside the caches, delete the package's cached machine code so that
numba recompiles.  Failures (read-only installs) are ignored: numba then
compiles in memory.
"""

from __future__ import annotations

import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_DIRS = (_HERE, os.path.join(_HERE, "policies"))
_STAMP = "damon-jit-deps.stamp"


def _fingerprint() -> str:
    h = hashlib.sha1()
    for d in _DIRS:
        for name in sorted(os.listdir(d)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(d, name))
                h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def purge_if_stale() -> bool:
    """Delete this package's numba caches if any source changed since they
    were written.  Returns True when it purged."""
    try:
        fp = _fingerprint()
        stamp = os.path.join(_HERE, "__pycache__", _STAMP)
        if os.path.exists(stamp):
            with open(stamp) as f:
                if f.read() == fp:
                    return False
        for d in _DIRS:
            cache = os.path.join(d, "__pycache__")
            if os.path.isdir(cache):
                for name in os.listdir(cache):
                    if name.endswith((".nbi", ".nbc")):
                        os.remove(os.path.join(cache, name))
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp, "w") as f:
            f.write(fp)
        return True
    except OSError:
        return False
