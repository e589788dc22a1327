"""``none``: no reclaim at all (the reference for memory saving and slowdown)."""

from __future__ import annotations

from .base import ReclaimPolicy


class NoReclaim(ReclaimPolicy):
    """No reclaim: every touched page stays resident (saving 0 %, no refaults)."""

    name = "none"
