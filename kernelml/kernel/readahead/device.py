"""Device and cost presets of the readahead model (integer nanoseconds).

The device is a pipeline (``pagecache.dev_submit``): a request occupies it
for ``req_ns + pages * page_ns`` and completes ``lat_ns`` after its
occupancy ends; requests queue in order.  A synchronous reader of random
4 KiB pages therefore sees ``lat + req + page`` per read, and a stream of
large asynchronous windows is bounded by ``req / window + page`` per page.

Presets:

``ssd`` — a mid-range NVMe SSD behind the usual defaults: 128 KiB
``read_ahead_kb`` (``VM_READAHEAD_PAGES``), 512 KiB ``max_sectors_kb``
(``io_pages`` 128), 80 us to first byte, about 2.6 GB/s, 100k IOPS per
queue.

``loop`` — a file-backed loop device with direct I/O on this project's
2-vCPU VM (Linux 6.18, virtio disk), measured with fio on an ext4 image
(``docs/readahead.md`` has the commands): QD1 random 4 KiB reads take about
110 us, 128 KiB sequential reads 169 us, 1 MiB reads 625 us (so about 105
us + 1.9 us per page); the loop driver sets ``max_sectors_kb`` 1280, which
makes the kernel default ``read_ahead_kb`` 2560 (``2 * io_opt``).

The application's CPU costs: a read() call, a page copied, a minor and a
major fault, a mapped page touched, a folio readahead allocates and inserts
(readahead runs in the reader's context), and the device time of a page
written back.  The ``loop`` preset's per-call costs are this VM's (a
buffered 4 KiB read of a cached page takes about 3 us here, against about
1.5 us on bare metal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import pagecache as pc


@dataclass(frozen=True)
class Device:
    name: str
    lat_ns: int
    req_ns: int
    page_ns: int
    max_req_pages: int  # max_sectors_kb / 4
    io_pages: int  # bdi->io_pages
    ra_default_pages: int  # read_ahead_kb / 4
    max_folio_order: int = 9  # large folios up to PMD size (ext4, xfs on 6.18)
    fault_around_pages: int = 16  # fault_around_bytes 64 KiB
    cpu_req_ns: int = 1_500
    cpu_page_ns: int = 250
    cpu_minor_ns: int = 700
    cpu_major_ns: int = 2_000
    cpu_hit_ns: int = 30
    write_page_ns: int = 2_000
    cpu_folio_ns: int = 400

    def params(self) -> np.ndarray:
        d = np.zeros(pc.ND, np.int64)
        d[pc.D_LAT] = self.lat_ns
        d[pc.D_REQ] = self.req_ns
        d[pc.D_PAGE] = self.page_ns
        d[pc.D_MAXREQ] = self.max_req_pages
        d[pc.D_IOPAGES] = self.io_pages
        d[pc.D_MAXORDER] = self.max_folio_order
        d[pc.D_FAULTAROUND] = self.fault_around_pages
        d[pc.D_CPU_REQ] = self.cpu_req_ns
        d[pc.D_CPU_PAGE] = self.cpu_page_ns
        d[pc.D_CPU_MINOR] = self.cpu_minor_ns
        d[pc.D_CPU_MAJOR] = self.cpu_major_ns
        d[pc.D_CPU_HIT] = self.cpu_hit_ns
        d[pc.D_WPAGE] = self.write_page_ns
        d[pc.D_CPU_FOLIO] = self.cpu_folio_ns
        return d

    def describe(self) -> dict:
        return asdict(self)


DEVICES = {
    "ssd": Device("ssd", lat_ns=80_000, req_ns=10_000, page_ns=1_500, max_req_pages=128, io_pages=128,
                  ra_default_pages=32),
    "loop": Device("loop", lat_ns=95_000, req_ns=12_000, page_ns=1_900, max_req_pages=320, io_pages=320,
                   ra_default_pages=640, cpu_req_ns=3_000, cpu_page_ns=400, cpu_minor_ns=1_200,
                   cpu_major_ns=3_000, cpu_folio_ns=600),
}
