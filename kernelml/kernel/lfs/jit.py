"""The decorator of every compiled function of the LFS write path.

``hot``: numba ``njit`` with ``cache=True``; ``_nrt=False`` because nothing
on the write path allocates, and without the runtime numba emits no
reference counting at call boundaries (with it, every call of a helper that
takes several arrays costs tens of nanoseconds of atomic increments and
decrements); ``error_model="numpy"`` so integer division compiles to a plain
division (divisors here are never zero).
"""

from __future__ import annotations

from numba import njit

hot = njit(cache=True, _nrt=False, error_model="numpy")
inline = njit(cache=True, _nrt=False, error_model="numpy", inline="always")
