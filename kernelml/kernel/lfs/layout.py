"""Array layout of the LFS model's state: what a kernel would keep in its
segment information table (SIT), its forward and reverse maps and a few
counters, as integer numpy arrays shared by the compiled write path
(:mod:`.engine`) and the Python control path (:mod:`.sim`).

Units: blocks (4 KiB by default), segments of ``blocks_per_seg`` blocks,
times on the logical clock (``now`` = user block writes so far; the first
write has time 1), stream positions (index of an operation in the whole
stream, writes and trims, the unit of ``next_write_index``).
"""

from __future__ import annotations

# --- per-segment int32 rows: segi[ROW, segno] -------------------------------
VALID = 0  # valid blocks (bitmap popcount)
WP = 1  # write pointer: blocks appended since the segment was opened
STATE = 2  # FREE / OPEN / SEALED
CLASS = 3  # log (class) the segment belongs to while open or sealed, -1 free
SOURCE = 4  # who placed its data: 0 human-made, 1 ML
ERASE = 5  # times erased (cleaned and returned to the free pool)
SCAN = 6  # migration cursor: offsets below it hold no valid block to stimulate
PREV = 7  # sealed segments of one class, oldest first (doubly linked list)
NEXT = 8
SEGI_ROWS = 9

# --- per-segment int64 rows: segl[ROW, segno] -------------------------------
MTIME = 0  # F2FS SIT mtime: running mean write time of the valid blocks
LASTMOD = 1  # time of the last append (NILFS2 su_lastmod)
CTIME = 2  # time the segment was opened (SepBIT's segment lifespan starts here)
FIRST = 3  # time of the first append since the segment was opened (CAT's "created")
SEGL_ROWS = 4

# --- per-LBA int64 rows: lbat[ROW, lba] ---------------------------------------
FMAP = 0  # forward map: physical block (segno * blocks_per_seg + offset), -1 unmapped
LWT = 1  # time of the LBA's last user write (0: never written)
DEATH = 2  # stream position of the next write/trim of this LBA's data (oracle), NEVER if none
LVER = 3  # debug: stream position of the LBA's latest write, -1 trimmed / never
MLMAP = 4  # ML hint map: 0 none, 1..15 the rate group user space assigned to the LBA
MOVES = 5  # GC copies of the LBA's live data since its user write
PSRC = 6  # who placed the LBA's live data at its user write: 0 human-made, 1 ML
LBAT_ROWS = 7

# --- per-physical-block int64 rows: physt[ROW, pblk] --------------------------
RMAP = 0  # reverse map: LBA stored there, -1 invalid or unwritten (the valid bitmap)
PVER = 1  # debug: stream position of the write whose data the block holds
PHYST_ROWS = 2

# --- segment states -----------------------------------------------------------
FREE = 0
OPEN = 1
SEALED = 2

NEVER = (1 << 62)  # "no next write" in DEATH (far beyond any stream position)
NO_WAKE = (1 << 62)  # next background-GC wake time when there is none

# --- counters: ctr[IDX] (int64) -------------------------------------------------
C_NOW = 0  # logical clock: user block writes so far (fill included)
C_SPOS = 1  # stream position of the next operation
C_USER = 2  # user block writes (fill included)
C_TRIM = 3  # trims applied (mapped or not)
C_GCW = 4  # blocks written by GC (victim moves and migration stimulation)
C_STIM = 5  # of which moved by migration stimulation
C_FREE = 6  # free segments (queue length)
C_QHEAD = 7  # free queue head index
C_LOGB = 8  # blocks appended to segments that are not free (SepBIT: log nBlocks)
C_SINV = 9  # invalid blocks in sealed segments (SepBIT: log nInvalidBlocks)
C_LIVE = 10  # mapped LBAs (F2FS written_block_count)
C_GCS = 11  # victims collected (GC invocations)
C_AUTOFREE = 12  # sealed segments freed because their last valid block died (prefree -> free)
C_LAST_TIME = 13  # time_us of the last operation applied
C_ERR = 14  # first error code of the write path (0 none)
C_CLEANED_SRC0 = 15  # victims collected per placement source
C_CLEANED_SRC1 = 16
C_OPEN_SEGS = 17  # segments in the OPEN state
C_PEAK = 18  # most segments ever not free at once (sepbit regime: peak log size)
C_BORROW = 19  # GC copies written to another log's open segment because no segment was free
C_DEAD_BLOCKS0 = 20  # user-written blocks that died (overwritten or trimmed), by placing source
C_DEAD_BLOCKS1 = 21
C_DEAD_MOVES0 = 22  # the GC copies those blocks had incurred in their lives, by placing source
C_DEAD_MOVES1 = 23
N_CTR = 24

# --- configuration: cfg[IDX] (int64) --------------------------------------------
K_BPS = 0  # blocks per segment
K_NSEGS = 1  # physical segments
K_NLBAS = 2  # logical blocks
K_REGIME = 3  # REGIME_F2FS / REGIME_SEPBIT
K_RESERVED = 4  # f2fs regime: foreground GC while free segments <= this
K_GP_PM = 5  # sepbit regime: garbage proportion trigger, per mille
K_AUTOFREE = 6  # 1: a sealed segment whose valid count drops to 0 is freed at once
K_HAS_TIME = 7
K_HAS_HINT = 8
K_HAS_NWI = 9
K_SOURCE = 10  # placement source in this chunk: 0 human, 1 ML table, 2 keyed by LBA (K_KEY_*)
K_KIND = 11  # human placement kind (see placement.base)
K_STIM = 12  # migration stimulation: blocks moved from a class's oldest sealed segment per user write
K_DEBUG = 13  # 1: maintain LVER/PVER version stamps for the invariant check
K_GC_MTIME = 14  # 0: a GC move stamps mtime with now (F2FS default); 1: with the source's mtime (ATGC)
K_NCLASS = 15  # classes (rows of the open-segment table)
K_EAGER = 16  # 1: open the next segment of a log as soon as the current one is sealed
K_MIN_INV = 17  # a sealed segment is a GC candidate once it holds this many invalid blocks
K_KEY_NUM = 18  # keyed source: an LBA is ML's when key_hash(lba) % K_KEY_DEN < K_KEY_NUM
K_KEY_DEN = 19
N_CFG = 24

SOURCE_HUMAN = 0
SOURCE_ML = 1
SOURCE_KEYED = 2

REGIME_F2FS = 0
REGIME_SEPBIT = 1

# --- table placement parameters: tpp[IDX] ---------------------------------------
T_SHIFT = 0  # class = table[lba >> shift]
T_NCLASS = 1  # classes the table may name (values are clipped to 0..n-1)
T_GC_MODE = 2  # GC of ML-placed data: 0 -> dedicated class T_NCLASS, 1 -> table lookup again
T_MODE = 3  # TABLE_RANGE: class = table[lba >> shift]; TABLE_FEATURE: see placement.table
T_NBUCKET = 4  # feature mode: age buckets per hint row
T_NHINT = 5  # feature mode: rows of the user table (4 hint rows, then one per ML map group)
N_TPP = 8

TABLE_RANGE = 0
TABLE_FEATURE = 1

# --- reasons the write path returns to Python ---------------------------------------
R_DONE = 0  # reached the end of the chunk
R_FG_GC = 1  # f2fs regime: free segments <= reserved before a user write
R_SEPBIT_GC = 2  # sepbit regime: log garbage proportion above the trigger
R_BG_WAKE = 3  # the background GC thread wakes before the next operation
R_STOP = 4  # the requested number of user writes was reached
R_ERROR = 5  # ctr[C_ERR] says why

# --- error codes ---------------------------------------------------------------------
E_NO_FREE = 1  # a log needed a segment and none was free
E_BAD_LBA = 2  # lba outside 0..n_lbas-1
E_BAD_VICTIM = 3  # GC asked to collect a segment that is not sealed

ERRORS = {
    E_NO_FREE: "no free segment for a log (device full: spare space too small for the open logs)",
    E_BAD_LBA: "LBA outside the logical space",
    E_BAD_VICTIM: "victim segment is not sealed",
}
