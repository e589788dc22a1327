"""Schema of the DAMON reclaim subsystem (``damon``).

The kernel side is DAMON_RECLAIM's pageout scheme with the ML proxy on its
region choice (``kernelml/kernel/damon/ml.py``).  Addresses are bytes of
the monitored page space (page number << 12), as DAMON reports them; the
clock is the kernel's, in microseconds.

What the kernel side publishes
------------------------------
Once per aggregation interval, in this order, every record carrying the
aggregation's sequence number ``seq`` (so that a learner can group them
even if a frame is lost):

``REC_REGION`` — one record per monitoring region, what DAMON exposes to
user space (the damon_aggregated tracepoint) plus the refaults the memory
reported in the region since the previous aggregation, and how many of
them hit pages the ML source had reclaimed.

``REC_REFAULT`` — one record per refault since the previous aggregation,
up to ``MAX_REFAULT_RECORDS`` (a deterministic even subsample beyond):
the faulting page's address and the source that had reclaimed it.

``REC_PAGEOUT`` — the pages this aggregation's pageout reclaimed, as runs
of contiguous pages ``[start, end)`` with ``reclaimed = (end - start) /
PAGE_SIZE`` and the source of the decision; beyond ``MAX_PAGEOUT_RECORDS``
runs, one record per range the pageout was applied to, with the number of
pages it reclaimed there (the pageout's young filter skips pages accessed
since DAMON last checked them, so ``reclaimed`` can be smaller than the
range).

``REC_AGGR`` — one record closing the aggregation: the clock, the
monitoring intervals, the scheme's coldness threshold (``min_age_us``),
the lineage horizon (``horizon_us``, see the efficiency notes in
``kernelml/kernel/damon/ml.py``), the quota state, the memory state
(resident and touched pages), how many of this interval's reclaim
batches each source decided, and totals.

Recommendations
---------------
``OP_RECLAIM`` — which memory the pageout scheme should act on.  DAMON's
regions change at every aggregation, so the payload names address ranges,
not region indices; the kernel maps them onto the regions of the moment
when it decides.  Payload, all int64 words::

    [VERSION, n_ranges, 0, 0,
     n_ranges x (start, end, idle_us)]

``[start, end)`` is a byte range, page aligned, inside ``[0,
target_bytes)``; ranges do not overlap; ``idle_us`` (>= 0) is the model's
prediction of the time until the range is accessed again, and the list is
in priority order: ``idle_us`` never increases along it.  At most
``MAX_RANGES`` ranges.  The kernel applies, in list order, the ranges whose
``idle_us`` is at least the scheme's ``min_age`` (the same coldness the
human-made rule asks of a region's past), until the scheme's quota for the
window is used up; a range that starts inside a region splits it there, as
a DAMOS address filter does.

Record kinds and the payload are part of the contract: the agent imports
this module, never the kernel side.
"""

SUBSYSTEM_ID = 0x20
NAME = "damon"
VERSION = 1
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

OP_RECLAIM = 1

SOURCE_HUMAN = 0
SOURCE_ML = 1

REC_REGION = 1
REGION_FIELDS = ["seq", "start", "end", "nr_accesses", "age", "refaults", "refaults_ml"]
REC_REFAULT = 2
REFAULT_FIELDS = ["seq", "addr", "source"]
REC_PAGEOUT = 3
PAGEOUT_FIELDS = ["seq", "start", "end", "reclaimed", "source"]
REC_AGGR = 4
AGGR_FIELDS = ["seq", "now_us", "aggr_us", "sample_us", "max_nr_accesses", "target_bytes", "min_age_us",
               "horizon_us", "quota_bytes", "quota_charged", "resident_pages", "touched_pages",
               "decisions_human", "decisions_ml", "reclaimed", "refaults", "refaults_ml", "nr_regions"]

RECORDS = {REC_REGION: REGION_FIELDS, REC_REFAULT: REFAULT_FIELDS, REC_PAGEOUT: PAGEOUT_FIELDS,
           REC_AGGR: AGGR_FIELDS}

MAX_RANGES = 1024
MAX_REFAULT_RECORDS = 4096
MAX_PAGEOUT_RECORDS = 4096
RECLAIM_HEADER = 4
RANGE_WORDS = 3
MAX_IDLE_US = 1 << 48  # largest idle prediction the payload may carry (about 9 years)


def field_index(fields: list[str]) -> dict[str, int]:
    """Column of each field name in a record."""
    return {name: i for i, name in enumerate(fields)}
