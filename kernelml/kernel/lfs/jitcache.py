"""Keep numba's on-disk cache of the LFS write path honest.

numba's ``cache=True`` revalidates a cached function against its own source
file only: when a placement file or :mod:`.layout` changes, the cached write
path (which inlines them) would silently keep the old code.  At import we
fingerprint the write path's source files (name, size, mtime) and, when the
fingerprint differs from the one stored beside the caches, delete the cached
machine code of this package so numba recompiles.  Failures (read-only
installs) are ignored: numba then simply compiles in memory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_DIRS = (_HERE, _HERE.joinpath("placement"))
_STAMP = "lfs-jit-deps.stamp"
# the sources compiled into the write path (other files of the package are
# plain Python and must not force a recompile when they change)
_CORE = ("engine.py", "layout.py", "jit.py")


def _sources() -> list[Path]:
    files = [_HERE.joinpath(name) for name in _CORE]
    files += sorted(_DIRS[1].glob("*.py"))
    return files


def _fingerprint() -> str:
    h = hashlib.sha1()
    for p in _sources():
        if p.exists():
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def purge_if_stale() -> bool:
    """Delete this package's numba caches if any model source changed since
    they were written.  Returns True when it purged."""
    try:
        fp = _fingerprint()
        stamp = _HERE.joinpath("__pycache__", _STAMP)
        if stamp.exists() and stamp.read_text() == fp:
            return False
        for d in _DIRS:
            cache = d.joinpath("__pycache__")
            if not cache.is_dir():
                continue
            for f in cache.iterdir():
                if f.suffix in (".nbi", ".nbc"):
                    f.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(fp)
        return True
    except OSError:
        return False
