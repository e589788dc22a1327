"""Emulation of masim access patterns (``masim-zigzag``, ``masim-stairs``).

masim (github.com/sjp38/masim, by SeongJae Park, used to test DAMON) reads
a config of paragraphs: the first lists memory regions (``name, size in
bytes[, init data file]``); each further paragraph is a phase: a name, a
duration in ms, then access patterns ``region, randomness (0 sequential /
1 random), stride in bytes, probability weight[, ro|wo|rw]`` (default
``wo``).  While a phase runs, masim repeatedly picks one pattern with
probability proportional to its weight and makes a burst of accesses with
it (``nr_accesses_per_region``, 128 Ki by default): a sequential pattern
advances ``offset += stride`` and wraps to 0 at the region end (its offset
persists between bursts); a random one hits uniform bytes.  ``--repeat``
runs the phase list again.

The two built-in configs follow masim's ``configs/zigzag.cfg`` (regions
``a`` and ``b`` of 100,000,000 bytes; a 10 s initial phase touching both
sequentially, then 6 x (5 s on ``a``, 5 s on ``b``)) and
``configs/stairs.cfg`` (ten regions of 10,000,000 bytes; a 10 s initial
phase on all, then 5 s on each region in turn), rebuilt here from that
description.  Any masim config text can be used with ``config=``.

Departures, all documented in ``describe()``: accesses come at ``rate``
per simulated second (masim runs as fast as the CPU allows), so bursts are
``burst`` accesses (default 64; 128 Ki at 2x10^5/s would span 0.65 s);
the phase list repeats until ``duration_s`` (masim ``--repeat``);
``time_scale`` stretches every phase (DAMON_RECLAIM needs memory idle for
over 120 s, which these configs never leave it); regions are laid out
back to back from page 0 and, when ``n_pages`` is given, scaled so that
they fill it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernelml.workloads.base import _BATCH, DEFAULT_CHUNK, PageChunk, PageWorkload, rechunk


@dataclass
class Pattern:
    region: str
    random: bool
    stride: int
    weight: int
    rw: str = "wo"


@dataclass
class Phase:
    name: str
    ms: int
    patterns: list


def parse_masim_config(text: str) -> tuple[list[tuple[str, int]], list[Phase]]:
    """(regions [(name, bytes)], phases) of a masim config."""
    lines = [ln.strip() for ln in text.splitlines() if not ln.strip().startswith("#")]
    paras, cur = [], []
    for ln in lines + [""]:
        if ln:
            cur.append(ln)
        elif cur:
            paras.append(cur)
            cur = []
    if len(paras) < 2:
        raise ValueError("a masim config needs a regions paragraph and at least one phase")
    regions = []
    for ln in paras[0]:
        f = [x.strip() for x in ln.split(",")]
        if len(f) not in (2, 3):
            raise ValueError(f"bad region line {ln!r}")
        regions.append((f[0], int(f[1])))
    names = {r for r, _ in regions}
    phases = []
    for p in paras[1:]:
        if len(p) < 3:
            raise ValueError(f"phase {p[0]!r} needs a name, a duration and patterns")
        pats = []
        for ln in p[2:]:
            f = [x.strip() for x in ln.split(",")]
            if len(f) not in (4, 5) or f[0] not in names:
                raise ValueError(f"bad access pattern line {ln!r}")
            rw = f[4] if len(f) == 5 else "wo"
            if rw not in ("ro", "wo", "rw"):
                raise ValueError(f"bad read/write mode in {ln!r}")
            pats.append(Pattern(f[0], f[1] != "0", int(f[2]), int(f[3]), rw))
        phases.append(Phase(p[0], int(p[1]), pats))
    return regions, phases


def _cfg(regions, phases) -> str:
    out = ["#regions"] + [f"{n}, {s}" for n, s in regions] + [""]
    for name, ms, pats in phases:
        out += [name, str(ms)] + [f"{r}, 0, 4096, {w}" for r, w in pats] + [""]
    return "\n".join(out)


ZIGZAG = _cfg([("a", 100_000_000), ("b", 100_000_000)],
              [("initial phase", 10_000, [("a", 1), ("b", 1)])]
              + [ph for i in range(6) for ph in ((f"low phase {i}", 5_000, [("a", 50)]),
                                                 (f"high phase {i}", 5_000, [("b", 50)]))])
STAIRS = _cfg([(f"s{i}", 10_000_000) for i in range(10)],
              [("initial phase", 10_000, [(f"s{i}", 1) for i in range(10)])]
              + [(f"phase {i}", 5_000, [(f"s{i}", 50)]) for i in range(10)])


class MasimPages(PageWorkload):
    """masim-style regions and phases, emulated at a fixed access rate."""

    has_write = True

    def __init__(self, name: str, config: str, n_pages: int | None = None, duration_s: float = 300.0,
                 seed: int = 0, rate: float = 200_000.0, burst: int = 64, time_scale: float = 1.0,
                 gap_pages: int = 0) -> None:
        if duration_s <= 0 or rate <= 0 or burst <= 0 or time_scale <= 0 or gap_pages < 0:
            raise ValueError("duration_s, rate, burst, time_scale must be positive; gap_pages >= 0")
        regions, phases = parse_masim_config(config)
        self.name = name
        self.seed, self.rate, self.burst = int(seed), float(rate), int(burst)
        self.time_scale = float(time_scale)
        native = [max(1, -(-size // 4096)) for _, size in regions]
        total = sum(native)
        if n_pages is not None:
            room = int(n_pages) - gap_pages * (len(regions) - 1)
            if room < len(regions):
                raise ValueError("n_pages too small for the config's regions")
            sizes = [max(1, int(p * room // total)) for p in native]
        else:
            sizes = native
        self.region_pages = {}
        at = 0
        for (rname, _), p in zip(regions, sizes):
            self.region_pages[rname] = (at, p)
            at += p + gap_pages
        self.n_pages = int(n_pages) if n_pages is not None else at - gap_pages
        self.phases = phases
        self.duration_us = int(round(duration_s * 1e6))
        self.n_accesses = int(duration_s * rate)
        # flat pattern table: (phase, base page, pages, random, stride bytes, weight, write)
        self._pat = []
        for pi, ph in enumerate(phases):
            for pt in ph.patterns:
                base, pages = self.region_pages[pt.region]
                stride = max(1, pt.stride)  # bytes
                self._pat.append((pi, base, pages, pt.random, stride, pt.weight, pt.rw != "ro"))
        ends = np.cumsum([int(ph.ms * 1000 * self.time_scale) for ph in phases])
        self._phase_end_us = ends.astype(np.int64)
        self._cycle_us = int(ends[-1])
        if self._cycle_us <= 0:
            raise ValueError("phases must have a positive total duration")

    def phase_at(self, t_us: np.ndarray) -> np.ndarray:
        """Index of the phase running at each time (the list repeats)."""
        return np.searchsorted(self._phase_end_us, np.asarray(t_us) % self._cycle_us, side="right")

    def chunks(self, chunk: int = DEFAULT_CHUNK):
        rng = np.random.default_rng(self.seed)
        batch = max(self.burst, (_BATCH // self.burst) * self.burst)
        n_pat = len(self._pat)
        pat_phase = np.array([p[0] for p in self._pat], np.int64)
        base = np.array([p[1] for p in self._pat], np.int64)
        size = np.array([p[2] for p in self._pat], np.int64)
        rand = np.array([p[3] for p in self._pat], bool)
        stride = np.array([p[4] for p in self._pat], np.int64)
        wr = np.array([p[6] for p in self._pat], bool)
        # per phase: cumulative weights over its patterns, and their global ids
        per_phase = []
        for pi in range(len(self.phases)):
            ids = np.flatnonzero(pat_phase == pi)
            w = np.array([self._pat[i][5] for i in ids], np.float64)
            per_phase.append((ids, np.cumsum(w) / w.sum()))
        # sequential offsets (in accesses) per pattern; masim's first access is at `stride`
        seq_count = np.zeros(n_pat, np.int64)

        def parts():
            for start in range(0, self.n_accesses, batch):
                k = min(batch, self.n_accesses - start)
                idx = np.arange(start, start + k, dtype=np.int64)
                t = (idx * 1_000_000 / self.rate).astype(np.int64)
                ph = self.phase_at(t)
                n_b = -(-k // self.burst)
                u_b = rng.random(n_b)
                u = np.repeat(u_b, self.burst)[:k]
                pat = np.empty(k, np.int64)
                for pi in np.unique(ph).tolist():
                    m = ph == pi
                    ids, cw = per_phase[pi]
                    pat[m] = ids[np.minimum(np.searchsorted(cw, u[m], side="right"), ids.size - 1)]
                pages = np.empty(k, np.int64)
                r = rand[pat]
                if r.any():
                    pages[r] = base[pat[r]] + rng.integers(0, size[pat[r]])
                for q in np.unique(pat[~r]).tolist():
                    m = (pat == q) & ~r
                    n = int(m.sum())
                    period = (size[q] * 4096 - 1) // stride[q] + 1  # offsets before the wrap
                    ordv = seq_count[q] + 1 + np.arange(n, dtype=np.int64)
                    pages[m] = base[q] + (ordv % period) * stride[q] // 4096
                    seq_count[q] += n
                yield PageChunk(t, pages, wr[pat])

        return rechunk(parts(), chunk)

    def describe(self) -> dict:
        d = super().describe()
        d.update(seed=self.seed, rate=self.rate, burst=self.burst, time_scale=self.time_scale,
                 regions={k: {"first_page": a, "pages": p} for k, (a, p) in self.region_pages.items()},
                 phases=[(p.name, p.ms) for p in self.phases], cycle_us=self._cycle_us,
                 departures="fixed access rate; bursts of `burst` accesses; phase list repeated; "
                            "phases stretched by time_scale; regions scaled to n_pages")
        return d


def masim_zigzag(n_pages=None, duration_s=300.0, seed=0, **params):
    """masim zigzag: two 100 MB regions accessed in alternation every 5 s."""
    return MasimPages("masim-zigzag", ZIGZAG, n_pages, duration_s, seed, **params)


def masim_stairs(n_pages=None, duration_s=300.0, seed=0, **params):
    """masim stairs: ten 10 MB regions accessed one after another, 5 s each."""
    return MasimPages("masim-stairs", STAIRS, n_pages, duration_s, seed, **params)


def masim_config(config: str, n_pages=None, duration_s=300.0, seed=0, **params):
    """Any masim config text (or a path to a config file)."""
    import os
    if os.path.exists(config):
        with open(config) as f:
            config = f.read()
    return MasimPages("masim", config, n_pages, duration_s, seed, **params)
