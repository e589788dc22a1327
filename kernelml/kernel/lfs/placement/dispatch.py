"""Integer switch over placement kinds, called per block by the compiled
write path.  Each branch calls the ``@njit`` functions of one placement file.

Arguments shared by every kind: ``pp``/``ps``/``lb``/``ring`` (the
placement's parameter, scalar-state, per-LBA and ring arrays), ``lbat`` (the
core's per-LBA rows: last user write time, oracle death position),
``table``/``tpp`` (the table slot), the LBA ``x``, and the clock: ``spos``
(stream position) and ``acc`` (user writes so far, this write included).
"""

from __future__ import annotations

from ..jit import hot

from ..layout import DEATH, LWT
from . import dac, f2fs_temp, fk, sepbit, sepgc, single, ssdfs, table
from .base import (KIND_DAC, KIND_F2FS_TEMP, KIND_FK, KIND_SEPBIT, KIND_SEPGC,
                   KIND_SSDFS, KIND_TABLE)


@hot
def user_class(kind, pp, ps, lb, ring, lbat, tab, tpp, x, hint, spos, acc, log_valid):
    """Class of a user write of LBA ``x`` (before the core updates LWT)."""
    if kind == KIND_F2FS_TEMP:
        return f2fs_temp.user_class(pp, hint)
    if kind == KIND_SEPGC:
        return sepgc.user_class()
    if kind == KIND_DAC:
        return dac.user_class(pp, lb, x)
    if kind == KIND_SEPBIT:
        return sepbit.user_class(pp, ps, lb, ring, x, acc, log_valid)
    if kind == KIND_FK:
        return fk.lifetime_class(pp, lbat[DEATH, x], spos)
    if kind == KIND_SSDFS:
        return ssdfs.leb_class(pp, x)
    if kind == KIND_TABLE:
        return table.user_class(tab, tpp, lbat, x, hint, acc)
    return single.user_class()


@hot
def gc_class(kind, pp, ps, lb, ring, lbat, tab, tpp, x, spos, acc):
    """Class of a block GC moves (human-made lineage)."""
    if kind == KIND_F2FS_TEMP:
        return f2fs_temp.gc_class(pp)
    if kind == KIND_SEPGC:
        return sepgc.gc_class()
    if kind == KIND_DAC:
        return dac.gc_class(lb, x)
    if kind == KIND_SEPBIT:
        return sepbit.gc_class(pp, ps, lbat[LWT, x], acc)
    if kind == KIND_FK:
        return fk.lifetime_class(pp, lbat[DEATH, x], spos)
    if kind == KIND_SSDFS:
        return ssdfs.leb_class(pp, x)
    if kind == KIND_TABLE:
        return table.gc_class(tab, tpp, lbat, x, acc)
    return single.gc_class()


@hot
def on_collect(kind, pp, ps, vcls, vctime, acc):
    """Called once per victim of human-made lineage before its blocks move."""
    if kind == KIND_SEPBIT:
        sepbit.on_collect(pp, ps, vcls, vctime, acc)


@hot
def ml_user_class(tab, tpp, lbat, x, hint, acc):
    return table.user_class(tab, tpp, lbat, x, hint, acc)


@hot
def ml_gc_class(tab, tpp, lbat, x, acc):
    return table.gc_class(tab, tpp, lbat, x, acc)
