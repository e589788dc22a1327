"""Per-source efficiency accounting and the confidence rule (integer only).

Estimator
---------
The subsystem reports *outcomes*, not decisions: ``account(source, cost,
units)`` says that ``units`` of useful work cost ``cost`` and that the source
(human-made or ML) is responsible for it.  For each source the proxy keeps

* lifetime totals (decisions, cost, units), exported in FEEDBACK;
* a window of the last ``window`` *batch ratios*: the outcomes of a source
  are summed until at least ``batch_units`` units have accrued, and the batch
  closes with ratio ``cost * SCALE // units`` (cost per unit, parts per
  million).

Comparing the two sources uses the batch means (a ratio-of-sums estimator per
batch) and their sample variances:

    diff = mean_human - mean_ml              (positive: ML cheaper)
    confident  iff  diff^2 * n_h * n_ml  >  z2 * (var_h * n_ml + var_ml * n_h)

which is ``|diff| > z * stderr(diff)`` squared so that no square root or
division is needed.  The default ``z2 = 9`` (z = 3, about 99.87 % one-sided)
is strict on purpose: the controller looks at the verdict after every poll,
and each look is another chance of a false "better"; with the minimum gain
(``min_gain_pm``) it also asks for a difference worth acting on.  Batch means
are approximately normal even when single outcomes are heavy-tailed, and the
batch size sets how much work one sample stands for.

Why a myopic cost cannot fool it
--------------------------------
The estimator never scores a decision by its immediate price.  What a source
is charged is chosen by the subsystem so that it includes the *consequences*
of the decision, in one of two ways the proxy supports:

1. **Lineage**: an outcome is charged when it is known, to the source that
   caused it.  A segment remembers who placed its data; when it is finally
   cleaned, the blocks moved and the blocks reclaimed are charged to that
   source.  A placement that mixes lifetimes is charged for the copying it
   causes later, however cheap it looked at write time.
2. **Switchback**: operations are handed to the sources in blocks (the op
   kind's ``block`` length) and the *system-level* cost measured while a
   source is in control is charged to it, skipping a washout at the start of
   each block so that the previous block's leftovers are not billed to the
   new one (:meth:`MLModelProxy.charge`).  A GC victim with few valid blocks
   now is cheap for that one operation; if choosing it leaves the device
   fuller of half-valid segments, the next operations in the same block pay
   for it, and that price lands on the source that made the choice.

Either way the unit is "blocks moved per block reclaimed" (or refaults per
page reclaimed, ...): the cost that matters over time, not the price of one
operation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

HUMAN = 0
ML = 1
SOURCES = (HUMAN, ML)
SOURCE_NAMES = ("human", "ml")
SCALE = 1_000_000  # ratios are cost per unit in parts per million


@dataclass(frozen=True)
class Verdict:
    """The comparison the mode controller acts on."""

    n_human: int
    n_ml: int
    mean_human: int  # cost per unit, ppm
    mean_ml: int
    mature: bool  # both sides have at least min_batches batches
    better: bool  # ML cheaper, with confidence and by at least min_gain_pm
    worse: bool  # ML dearer, with confidence and by more than tolerance_pm
    not_worse: bool  # ML at most tolerance_pm dearer (point estimate)
    no_longer_better: bool  # ML's mean above human's by at least one standard error


class _Side:
    __slots__ = ("decisions", "cost", "units", "b_cost", "b_units", "ratios")

    def __init__(self, window: int) -> None:
        self.decisions = 0
        self.cost = 0
        self.units = 0
        self.b_cost = 0
        self.b_units = 0
        self.ratios: deque[int] = deque(maxlen=window)

    def stats(self) -> tuple[int, int, int]:
        n = len(self.ratios)
        if n == 0:
            return 0, 0, 0
        mean = sum(self.ratios) // n
        if n < 2:
            return n, mean, 0
        var = sum((r - mean) * (r - mean) for r in self.ratios) // (n - 1)
        return n, mean, var


class Efficiency:
    """Windowed cost-per-unit comparison of the human-made and the ML source.

    ``batch_units``: units per batch (one sample of the comparison).
    ``window``: batches kept per source.  ``min_batches``: batches per side
    before any verdict.  ``z2``: squared z of the confidence rule.
    ``tolerance_pm``: per mille by which ML may be dearer and still be "not
    worse" (and beyond which a confident difference is "worse").
    ``min_gain_pm``: per mille by which ML must be cheaper to be "better".
    """

    def __init__(self, batch_units: int = 4096, window: int = 32, min_batches: int = 6,
                 z2: int = 9, tolerance_pm: int = 20, min_gain_pm: int = 10) -> None:
        if batch_units <= 0 or window < 2 or min_batches < 2 or min_batches > window:
            raise ValueError("need batch_units > 0 and 2 <= min_batches <= window")
        self.batch_units = batch_units
        self.window = window
        self.min_batches = min_batches
        self.z2 = z2
        self.tolerance_pm = tolerance_pm
        self.min_gain_pm = min_gain_pm
        self.sides = (_Side(window), _Side(window))

    def decided(self, source: int) -> None:
        self.sides[source].decisions += 1

    def account(self, source: int, cost: int, units: int) -> None:
        """Charge ``cost`` for ``units`` of work to ``source`` (both >= 0)."""
        if cost < 0 or units < 0:
            raise ValueError("cost and units must be non-negative")
        s = self.sides[source]
        s.cost += cost
        s.units += units
        s.b_cost += cost
        s.b_units += units
        if s.b_units >= self.batch_units:
            s.ratios.append(s.b_cost * SCALE // s.b_units)
            s.b_cost = 0
            s.b_units = 0

    def forget(self, source: int | None = None) -> None:
        """Drop the windowed evidence (totals are kept)."""
        for i in SOURCES if source is None else (source,):
            side = self.sides[i]
            side.ratios.clear()
            side.b_cost = side.b_units = 0

    def verdict(self) -> Verdict:
        n_h, m_h, v_h = self.sides[HUMAN].stats()
        n_m, m_m, v_m = self.sides[ML].stats()
        mature = n_h >= self.min_batches and n_m >= self.min_batches
        if not mature:
            return Verdict(n_h, n_m, m_h, m_m, False, False, False, False, False)
        diff = m_h - m_m
        spread = v_h * n_m + v_m * n_h  # n_h * n_m * stderr(diff)^2
        confident = diff * diff * n_h * n_m > self.z2 * spread
        better = diff > 0 and confident and diff * 1000 >= self.min_gain_pm * m_h
        worse = diff < 0 and confident and -diff * 1000 > self.tolerance_pm * m_h
        not_worse = m_m * 1000 <= m_h * (1000 + self.tolerance_pm)
        # "no longer better": ML's mean above human's by at least one standard error
        no_longer = diff <= 0 and diff * diff * n_h * n_m >= spread
        return Verdict(n_h, n_m, m_h, m_m, True, better, worse, not_worse, no_longer)

    def totals(self, source: int) -> tuple[int, int, int]:
        s = self.sides[source]
        return s.decisions, s.cost, s.units
