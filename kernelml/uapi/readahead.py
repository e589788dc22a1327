"""Schema of the readahead subsystem (``readahead``).

The kernel side is the page cache's on-demand readahead (``mm/readahead.c``)
with the ML proxy choosing each file's readahead limit, ``ra->ra_pages``
(the largest window the on-demand algorithm may ramp up to; the device's
``read_ahead_kb`` divided by the page size is the kernel's default).  The
on-demand algorithm itself always runs: the model never issues I/O, it only
bounds the window, as ``read_ahead_kb`` and ``posix_fadvise`` do.

The same schema serves two kernel sides: the modelled page cache
(``kernelml/kernel/readahead``), which can set a limit per file, and the live
controller on a real kernel (``kernelml/linux/readahead_live.py``), which
can only set the device's ``read_ahead_kb`` and reads the same features off
the readahead and filemap tracepoints.

Clock
-----
The modelled kernel side counts application requests (one tick per read,
fault or write request); the live controller counts milliseconds.  HELLO's
``tick_ns`` says which (0: requests).

What the kernel side publishes
------------------------------
Once per *epoch* (a fixed number of ticks; the unit of the proxy's
decisions, see ``OP_WINDOW``), in this order:

``REC_FILE`` — one record per file (reader) accessed in the epoch (the
modelled kernel counts the part of the epoch it charges, after the
washout at its start; at most
``MAX_FILE_RECORDS``, the busiest first): what the page cache saw of its
access pattern (requests, their sizes, how many continued the previous
request of the same open file, went backwards, jumped), what readahead did
(sync and async calls, pages it read) and how it turned out (pages found
cached, pages missed, pages waited for, pages evicted without ever being
used, the time the application waited).  ``source`` and ``ra_pages`` are
the source and the limit in force for the file at the end of the epoch.
``key`` identifies the reader: in the model, the open file description
(a stream slot, stable across reopens like a task's descriptor number,
since ``file->f_ra`` — and so the limit — belongs to the open file); on a
real kernel, the inode (all the tracepoints name).  Fields the live
controller cannot observe are -1.

``REC_EPOCH`` — one record closing the epoch: device-level totals, the
kernel's default limit (``ra_default``) and the limit of the source in
control, and the cache state.

Recommendations
---------------
``OP_WINDOW`` — one decision per epoch: which source sets the readahead
limits for the next epoch.  The human-made policy is the kernel default (the
device's ``read_ahead_kb``).  Payload, all int64 words::

    [VERSION, device_pages, n_entries, 0,
     n_entries x (key, ra_pages)]

``device_pages`` is the limit for every file without an entry (and, on a
real kernel, the value written to ``read_ahead_kb``, in pages);
``ra_pages`` is the limit for the file ``key``.  Every limit is in
``0 .. MAX_RA_PAGES``; keys are distinct and non-negative; at most
``MAX_ENTRIES`` entries.  The kernel side may clamp the limits to a
narrower range it was configured with (``min_pages .. max_pages``) and
rejects anything outside the schema's bounds.

Record kinds and the payload are part of the contract: the agent imports
this module, never the kernel side.
"""

SUBSYSTEM_ID = 0x30
NAME = "readahead"
VERSION = 1
PAGE_SHIFT = 12
PAGE_KB = 4

OP_WINDOW = 1

SOURCE_HUMAN = 0
SOURCE_ML = 1

MAX_RA_PAGES = 4096  # 16 MiB: the largest limit a recommendation may ask for
MAX_ENTRIES = 512
MAX_FILE_RECORDS = 256
PAYLOAD_HEADER = 4

# the windows learners and policies choose from (pages; 0 .. 8 MiB)
LADDER = (0, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)

REC_FILE = 1
FILE_FIELDS = [
    "epoch",        # epoch number (groups the records of one epoch)
    "key",          # file identity (inode number on a real kernel)
    "size_pages",   # file size in pages (-1: unknown)
    "source",       # source whose limit was in force at the end of the epoch (0 human, 1 ML)
    "ra_pages",     # that limit, pages
    "requests",     # read requests (read() calls, or page faults for mmap)
    "pages",        # pages the requests asked for
    "seq",          # requests that continued the previous request of the same open file
    "back",         # requests that ended at or just before the previous request's start (reverse scans)
    "jumps",        # other requests (random or strided)
    "gap_log2_x16",  # mean log2 of the jump distance in pages of "jumps", x16 (strides vs random)
    "mmap",         # requests that were page faults on a mapping
    "writes",       # write requests
    "hit_pages",    # pages found cached and up to date
    "wait_pages",   # pages found cached but still being read (a prefetch not yet complete)
    "miss_pages",   # pages not cached: read while the application waited
    "stall_us",     # time the application waited on this file's pages (-1: unknown)
    "sync_ra",      # synchronous readahead calls (cache misses)
    "async_ra",     # asynchronous readahead calls (readahead marker hit)
    "ra_read",      # pages readahead brought into the cache
    "useless",      # pages of this file readahead brought in that were evicted unused
    "dev_reads",    # device read requests for this file
]

REC_EPOCH = 2
EPOCH_FIELDS = [
    "epoch",
    "now",          # kernel clock at the end of the epoch
    "source",       # source in control of the epoch (0 human, 1 ML)
    "ra_default",   # the kernel's default limit (device read_ahead_kb / 4), pages
    "ra_device",    # the limit the source in control set for files without an entry, pages
    "requests",
    "pages",
    "elapsed_us",   # time the epoch took (-1: unknown)
    "stall_us",     # time the application waited on reads (-1: unknown)
    "dev_reads",    # device read requests
    "dev_pages",    # pages read from the device
    "dev_busy_us",  # device busy time (-1: unknown)
    "useless",      # readahead pages evicted unused during the epoch
    "useless_ml",   # ... of which the ML source's windows had brought in
    "cache_pages",  # pages in the cache at the end of the epoch (-1: unknown)
    "cache_cap",    # cache capacity in pages (-1: unknown)
    "files",        # files with a REC_FILE record this epoch
]


def payload(device_pages: int, entries=()) -> list[int]:
    """Build an ``OP_WINDOW`` payload (no validation: the kernel side validates)."""
    out = [VERSION, int(device_pages), len(entries), 0]
    for key, pages in entries:
        out += [int(key), int(pages)]
    return out
