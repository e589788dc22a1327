"""The composite F2FS configuration: greedy victims for foreground GC,
cost-benefit for background GC.

Kernel source: ``fs/f2fs/gc.c`` ``select_gc_type()``: ``FG_GC`` uses
``GC_GREEDY``; ``BG_GC`` uses ``GC_CB`` (or ``GC_AT`` with the ``atgc`` mount
option).  Each mode keeps its own scan cursor (``last_victim[gc_mode]``), so
the two halves are two independent policy objects.  Pair it with the
``f2fs-temp`` placement (GC'd data to the cold log) to model a default F2FS
mount; :func:`kernelml.bench.gc_run.run_gc` does so when no placement is
named.
"""

from __future__ import annotations

from .view import SegmentView, VictimPolicy


class F2FSComposite(VictimPolicy):
    """F2FS default: greedy in the foreground, f2fs-cb in the background
    (gc.c select_gc_type)."""

    name = "f2fs"

    def __init__(self, background: str = "f2fs-cb") -> None:
        from .victims import VICTIMS

        self.fg = VICTIMS.make("greedy")
        bg = VICTIMS.get(background)
        try:
            self.bg = bg(foreground_greedy=False)
        except TypeError:
            self.bg = bg()
        self.background = background

    def reset(self) -> None:
        self.fg.reset()
        self.bg.reset()

    def select(self, view: SegmentView) -> int:
        return self.fg.select(view) if view.foreground else self.bg.select(view)
