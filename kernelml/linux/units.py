"""Sizes and durations as people type them: ``2GiB``, ``512M``, ``120s``, ``2m``."""

from __future__ import annotations

import re

_SIZE = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000**2,
         "mib": 1 << 20, "g": 1 << 30, "gb": 1000**3, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40}
_TIME = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 1e-3, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_size(text: str | int) -> int:
    """Bytes in ``text``: a number with an optional unit (K/M/G/T are binary;
    KB/MB/GB decimal; KiB/MiB/GiB binary)."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _SIZE:
        raise ValueError(f"not a size: {text!r} (e.g. 64MiB, 2GiB, 4096)")
    return int(float(m.group(1)) * _SIZE[m.group(2).lower()])


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``: a number with an optional unit (ms, s, m, h)."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _TIME:
        raise ValueError(f"not a duration: {text!r} (e.g. 120s, 2m, 500ms)")
    return float(m.group(1)) * _TIME[m.group(2).lower()]


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
