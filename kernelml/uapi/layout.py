"""Declarative fixed little-endian layouts: one description drives Python
encoding/decoding and the generated C header, so the two cannot drift.

A layout is an ordered list of ``(name, ctype)`` fields.  ``ctype`` is one of
the fixed-width integer types below, or ``"char[N]"`` for a NUL-padded
ASCII name: at most N-1 characters, no NUL inside, NUL-terminated and
zero-filled to N bytes (decoding rejects anything else, so each name has one
encoding).  Fields named ``_pad*`` must be zero on the wire.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

_SCALARS = {
    "u8": ("B", "__u8"),
    "u16": ("H", "__u16"),
    "u32": ("I", "__u32"),
    "u64": ("Q", "__u64"),
    "i32": ("i", "__s32"),
    "i64": ("q", "__s64"),
}
_CHAR = re.compile(r"^char\[(\d+)\]$")


@dataclass(frozen=True)
class Layout:
    """A packed little-endian struct with named fields."""

    cname: str
    fields: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        fmt = "<"
        for name, ctype in self.fields:
            m = _CHAR.match(ctype)
            if m:
                fmt += f"{int(m.group(1))}s"
            elif ctype in _SCALARS:
                fmt += _SCALARS[ctype][0]
            else:  # pragma: no cover - a programming error in a layout table
                raise TypeError(f"{self.cname}.{name}: unknown type {ctype!r}")
        object.__setattr__(self, "_struct", struct.Struct(fmt))

    @property
    def size(self) -> int:
        return self._struct.size

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.fields)

    def pack(self, values: dict) -> bytes:
        out = []
        for name, ctype in self.fields:
            v = values.get(name, 0 if not _CHAR.match(ctype) else "")
            if _CHAR.match(ctype):
                raw = v.encode("ascii") if isinstance(v, str) else bytes(v)
                width = int(_CHAR.match(ctype).group(1))
                if b"\0" in raw:
                    raise ValueError(f"{self.cname}.{name}: {v!r} contains NUL")
                if len(raw) >= width:
                    raise ValueError(f"{self.cname}.{name}: {v!r} longer than {width - 1} characters")
                out.append(raw)
            else:
                out.append(int(v))
        try:
            return self._struct.pack(*out)
        except struct.error as exc:
            raise ValueError(f"{self.cname}: {exc}") from None

    def unpack_from(self, buf, offset: int = 0) -> dict:
        raw = self._struct.unpack_from(buf, offset)
        vals = {}
        for (name, ctype), v in zip(self.fields, raw):
            if isinstance(v, bytes):
                v, nul, rest = v.partition(b"\0")
                if not nul:
                    raise ValueError(f"{self.cname}.{name}: not NUL-terminated")
                if rest.count(0) != len(rest):
                    raise ValueError(f"{self.cname}.{name}: non-zero bytes after the NUL")
                try:
                    v = v.decode("ascii")
                except UnicodeDecodeError:
                    raise ValueError(f"{self.cname}.{name}: not ASCII") from None
            vals[name] = v
        return vals

    def c_struct(self) -> str:
        lines = [f"struct {self.cname} {{"]
        for name, ctype in self.fields:
            m = _CHAR.match(ctype)
            if m:
                lines.append(f"\tchar {name}[{m.group(1)}];")
            else:
                lines.append(f"\t{_SCALARS[ctype][1]} {name};")
        lines.append("} __attribute__((packed));")
        lines.append(f"_Static_assert(sizeof(struct {self.cname}) == {self.size}, \"{self.cname} size\");")
        return "\n".join(lines)
