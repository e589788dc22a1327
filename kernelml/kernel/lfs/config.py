"""Configuration of one LFS model instance and how it sizes the device.

Spare space follows Desnoyers' definition of the spare factor ("Analytic
Modeling of SSD Write Performance", SYSTOR'12): ``Sf = (T - U) / T`` with
``T`` physical and ``U`` logical (user-visible) blocks, so
``T = U / (1 - Sf)``, rounded up to whole segments.  Every segment counts as
physical space: open logs and the reserved free segments come out of the
spare space, as on a real device.

Two GC regimes:

``f2fs`` (default): a fixed device.  Foreground GC runs before a user write
when free segments <= ``reserved_segments`` (``has_not_enough_free_secs`` in
``fs/f2fs/segment.h``, data-only: no node/dentry sections) until there are
more; background GC runs when the trace has timestamps and the GC thread
finds the device idle (:mod:`.bggc`).  ``reserved_segments`` = -1 chooses the
smallest safe value: as many segments as one GC pass can open for its
destination logs (one per GC class and lineage).  ``reserved_segments`` =
-2 uses mkfs.f2fs's formula (:func:`f2fs_mkfs_reserved`), which is large on
small devices.

``sepbit``: the SepBIT authors' simulator.  The log grows as needed (the
device is a pool large enough for it); after every user write, if invalid
blocks in sealed segments exceed ``gp_pm`` per mille of all blocks in the
log, one segment is collected, chosen among sealed segments whose own
garbage share is at least ``gp_pm`` per mille.

All fields are integers (ppm, per mille, microseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PPM = 1_000_000

# fs/f2fs/gc.h (mainline): GC thread sleep times, ms -> us here
DEF_GC_THREAD_MIN_SLEEP_TIME_US = 30_000 * 1000
DEF_GC_THREAD_MAX_SLEEP_TIME_US = 60_000 * 1000
DEF_GC_THREAD_NOGC_SLEEP_TIME_US = 300_000 * 1000
# fs/f2fs/f2fs.h: DEF_IDLE_INTERVAL, 5 s: interval_time[GC_TIME] checked by is_idle()
DEF_IDLE_INTERVAL_US = 5 * 1000 * 1000
LIMIT_INVALID_BLOCK = 40  # fs/f2fs/gc.h: percentage over total user space
LIMIT_FREE_BLOCK = 40  # fs/f2fs/gc.h: percentage over invalid + free space


@dataclass
class LfsConfig:
    n_lbas: int  # logical blocks (the user-visible space)
    blocks_per_seg: int = 512  # 2 MiB segments of 4 KiB blocks (F2FS); NILFS2 uses 2048
    spare_ppm: int = 100_000  # spare factor (T - U) / T, parts per million (f2fs regime)
    regime: str = "f2fs"  # "f2fs" or "sepbit"
    reserved_segments: int = -1  # -1 auto (minimal safe), -2 mkfs.f2fs formula, else exact
    gp_pm: int = 150  # sepbit regime: garbage proportion trigger and candidate floor, per mille
    bg_gc: bool = True  # f2fs regime: background GC on idle gaps (needs timestamps)
    idle_interval_us: int = DEF_IDLE_INTERVAL_US
    min_sleep_us: int = DEF_GC_THREAD_MIN_SLEEP_TIME_US
    max_sleep_us: int = DEF_GC_THREAD_MAX_SLEEP_TIME_US
    nogc_sleep_us: int = DEF_GC_THREAD_NOGC_SLEEP_TIME_US
    gc_mtime_source: bool = False  # GC copies carry the source segment's mtime (F2FS ATGC)
    autofree: bool = True  # f2fs regime: a sealed segment with no valid block is freed at once
    debug: bool = False  # check every invariant after every GC (O(n) per GC)
    seed: int = 0  # the policies' random generator
    sample_every: int = 0  # user writes between timeline samples (0: no timeline)
    extra: dict = field(default_factory=dict)  # free-form, echoed in results

    def validate(self) -> None:
        if self.n_lbas <= 0:
            raise ValueError("n_lbas must be positive")
        if self.blocks_per_seg < 2:
            raise ValueError("blocks_per_seg must be >= 2")
        if self.regime not in ("f2fs", "sepbit"):
            raise ValueError(f"regime must be 'f2fs' or 'sepbit', got {self.regime!r}")
        if not 0 < self.spare_ppm < PPM:
            raise ValueError("spare must be strictly between 0 and 1")
        if not 0 < self.gp_pm < 1000:
            raise ValueError("gp_pm must be in 1..999")
        if self.reserved_segments < -2:
            raise ValueError("reserved_segments must be >= 0, -1 (auto) or -2 (mkfs.f2fs)")
        if self.sample_every < 0:
            raise ValueError("sample_every must be >= 0")


def segments_for(n_lbas: int, blocks_per_seg: int, spare_ppm: int) -> int:
    """Physical segments of a device with ``n_lbas`` logical blocks and spare
    factor ``spare_ppm``: ``ceil(U / ((1 - Sf) * blocks_per_seg))``."""
    den = (PPM - spare_ppm) * blocks_per_seg
    return -(-(n_lbas * PPM) // den)


def sepbit_pool(n_lbas: int, blocks_per_seg: int, gp_pm: int, n_open: int) -> int:
    """Segments to allocate for the growing log of the sepbit regime: the
    steady-state log (live blocks over 1 - gp) plus a tenth, plus room for
    every open segment and a margin."""
    steady = -(-(n_lbas * 1000) // ((1000 - gp_pm) * blocks_per_seg))
    return steady + steady // 10 + 2 * n_open + 64


def f2fs_mkfs_reserved(spare_ppm: int) -> int:
    """mkfs.f2fs's reserved segments for an overprovision ratio (f2fs-tools
    ``mkfs/f2fs_format.c``: ``reserved = (2 * (100 / ovp + 1) + NR_CURSEG_TYPE)
    * segs_per_sec``, ovp in percent, NR_CURSEG_TYPE = 6, one segment per
    section).  The ratio is taken as the spare factor in whole percent."""
    ovp = max(1, spare_ppm // 10_000)
    return 2 * (100 // ovp + 1) + 6
