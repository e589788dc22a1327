"""Schema of the log-structured file-system GC subsystem (``lfs``).

What the kernel side publishes
------------------------------
``REC_WRITE`` — one record per user block write: what a file system sees
on its write path (the time on the kernel's logical clock, the LBA, the
temperature hint, how long ago the LBA was last written, where the write
went, and the LBA's group in the hint map user space filled) and nothing
else.

``REC_GC`` — one record per segment cleaned: what the cleaner sees.

``REC_DEVICE`` — the geometry (logical blocks, blocks per segment,
segments, reserved segments) and ``max_classes``, the most ML classes the
spare space can bear (a table naming more is rejected); sent after every
HELLO and with every feedback.

Recommendations
---------------
``OP_PLACEMENT`` payload, all int64 words::

    [VERSION, n_rows, n_buckets, n_classes, map_offset, map_count, 0,
     user table: n_rows * n_buckets class ids (row-major),
     gc table: n_rows * n_buckets class ids (row-major),
     map: ceil(map_count / 16) words, 16 four-bit groups per word, the
          group of LBA map_offset + i in bits 4 * (i % 16) of word i // 16]

The kernel side keeps a per-LBA hint map (4 bits per LBA, 0 = no
estimate); a recommendation's map part overwrites ``map_count`` entries
from ``map_offset`` when it is accepted, so a large map travels in several
recommendations.  A user write of hint ``h`` whose LBA was last written
``v`` ticks ago goes to class ``user[row][bucket(v)]`` with ``row = h``
when the write has a hint (h != 0) or the LBA's map group ``g`` is 0, and
``row = 3 + g`` otherwise; a block
GC moves whose data is ``a`` ticks old goes to class ``gc[row][bucket(a)]``
(its row from the map, hint 0 when the map has no group: the write's hint is
not kept).  ``bucket(x)`` is the bit length of ``x``
(``fls64``: 0 for x = 0, which also stands for "never written before"),
capped at ``n_buckets - 1``.  Every class id is in ``0 .. n_classes - 1``;
the kernel side keeps one open segment per class for ML-placed data, apart
from its own.

``OP_VICTIM`` payload::

    [VERSION, n_logs, n_buckets, 0,
     stability table: n_logs * n_buckets values (ticks, 0 .. 2**30)]

``n_logs`` is ``2 * LOGS_PER_SOURCE``: a segment's log is ``source *
LOGS_PER_SOURCE + class`` (source 0 human-made placement, 1 ML).  For a
candidate segment of log ``l`` last appended ``a`` ticks ago with ``v``
valid blocks, the kernel cleans the candidate with the highest
``stab[l][bucket(a)] * ((blocks_per_seg - v) << 16) // (blocks_per_seg + v)``:
Sprite LFS cost-benefit with the model's expected stability of the copied
data in place of the segment's age (cost-benefit with predicted rather than
assumed decay).
"""

import numpy as np

SUBSYSTEM_ID = 0x10
NAME = "lfs"
VERSION = 1

OP_PLACEMENT = 1
OP_VICTIM = 2

REC_WRITE = 1
WRITE_FIELDS = ["time", "lba", "hint", "prev_age", "user_class", "source", "map_group"]
REC_GC = 2
GC_FIELDS = ["time", "segno", "valid", "blocks_per_seg", "sealed_age", "class", "placed_by",
             "chosen_by"]
REC_DEVICE = 3  # the device's geometry and the limits recommendations must respect (statfs-like)
DEVICE_FIELDS = ["n_lbas", "blocks_per_seg", "segments", "reserved", "max_classes"]

N_HINTS = 4  # 0 none, 1 hot, 2 warm, 3 cold (the F2FS temperature a write carries)
N_GROUPS = 15  # map groups 1..15
N_ROWS = N_HINTS + N_GROUPS
MAX_BUCKETS = 64
MAX_CLASSES = 8
LOGS_PER_SOURCE = 16
MAX_SCORE = 1 << 30

PLACEMENT_HEADER = 7
VICTIM_HEADER = 4


def pack_groups(groups) -> np.ndarray:
    """Pack 4-bit groups, 16 per int64 word (see OP_PLACEMENT)."""
    g = np.asarray(groups, dtype=np.uint64) & np.uint64(0xF)
    pad = (-g.size) % 16
    if pad:
        g = np.concatenate([g, np.zeros(pad, np.uint64)])
    shifts = (np.arange(16, dtype=np.uint64) * np.uint64(4))
    words = (g.reshape(-1, 16) << shifts).sum(axis=1, dtype=np.uint64)
    return words.view(np.int64)


def unpack_groups(words, count: int) -> np.ndarray:
    """The inverse of :func:`pack_groups` (int64 groups, ``count`` of them)."""
    w = np.asarray(words, dtype=np.int64).view(np.uint64)
    shifts = (np.arange(16, dtype=np.uint64) * np.uint64(4))
    g = (w[:, None] >> shifts) & np.uint64(0xF)
    return g.ravel()[:count].astype(np.int64)


def bucket(x: int, n_buckets: int) -> int:
    """Bit length of ``x`` (>= 0), capped at ``n_buckets - 1``."""
    b = int(x).bit_length() if x > 0 else 0
    return b if b < n_buckets else n_buckets - 1
