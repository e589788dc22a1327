"""Block trace formats understood by ``open_trace(path, fmt)``.

Every format yields requests (time, op, byte offset, byte size, device);
reads are skipped and counted, writes and trims become block operations.

``csv`` (this project's own, simple): ``time_us,op,offset_bytes,size_bytes``
    with op ``R`` (read), ``W`` (write) or ``T`` (trim; ``D`` also means
    discard); an optional header line; ``#`` comments.
``msr`` (MSR Cambridge block traces, SNIA IOTTA):
    ``Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`` with
    Timestamp a Windows FILETIME (100 ns ticks since 1601), Type ``Read`` or
    ``Write``, Offset and Size in bytes.  DiskNumber is the device.
``mqsim`` (MQSim's ASCII trace, as shipped with MQSim):
    ``arrival_time_ns device_number start_sector size_in_sectors type``,
    blank-separated, sectors of 512 bytes, type 0 = write, 1 = read.
    MQSim's reader names a device column but, as far as we can tell, does
    not route by it; we keep all devices too unless asked (``device=``).
``cloudphysics`` (CSV rendering of the CloudPhysics VMware vscsi traces, as
    bundled with libCacheSim as ``data/trace.csv``): ``version,time,op,size,lbn``
    with a header; ``time`` in seconds (libCacheSim FAQ: "the time unit is
    in sec"), ``op`` the SCSI command opcode in hex (vscsi ``cmd``: 28/08/88/
    a8 READ(10/6/16/12), 2a/0a/8a/aa WRITE(10/6/16/12); any other command
    is counted as ``other`` and skipped), ``size`` in bytes, ``lbn`` the SCSI
    logical block address in 512-byte sectors.
``alibaba`` (Alibaba Cloud block traces 2020, and the peer's generated
    traces): ``device_id,opcode,offset,length,timestamp`` with opcode
    ``R``/``W``, offset and length in bytes, timestamp in us.
``blkparse``: text output of blkparse, or of the tracefs ``blk`` tracer
    (see :mod:`kernelml.workloads.blkparse`).

Times are made relative to the first request of the trace and forced
non-decreasing (a step back is clamped and counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kernelml.workloads.parse import (C_DEV, C_OFF, C_OP, C_SIZE, C_TIME, K_CHAR, K_DEC, K_DECFRAC,
                                      K_HEXMAP, K_INTMAP, R_OTHER, R_READ, R_TRIM, R_WRITE)


def _char_table(mapping: dict[str, int]) -> np.ndarray:
    t = np.full(256, -1, np.int8)
    for ch, code in mapping.items():
        t[ord(ch.lower())] = code
        t[ord(ch.upper())] = code
    return t


def _int_table(mapping: dict[int, int], default: int = -1) -> np.ndarray:
    t = np.full(256, default, np.int8)
    for v, code in mapping.items():
        t[v] = code
    return t


@dataclass
class Format:
    name: str
    delim: int  # 0 = runs of blanks, else the byte value of the separator
    min_fields: int
    columns: dict  # column -> (field index, kind, mul, div)
    optab: np.ndarray
    doc: str = ""
    spec: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.spec = np.full((5, 4), 0, np.int64)
        self.spec[:, 0] = -1
        self.spec[:, 2] = 1
        self.spec[:, 3] = 1
        for col, (fi, kind, mul, div) in self.columns.items():
            self.spec[col] = (fi, kind, mul, div)

    @property
    def has_device(self) -> bool:
        return self.spec[C_DEV, 0] >= 0


_SCSI = {0x08: R_READ, 0x28: R_READ, 0x88: R_READ, 0xA8: R_READ,
         0x0A: R_WRITE, 0x2A: R_WRITE, 0x8A: R_WRITE, 0xAA: R_WRITE}

FORMATS: dict[str, Format] = {
    "csv": Format("csv", ord(","), 4, {
        C_TIME: (0, K_DEC, 1, 1), C_OP: (1, K_CHAR, 1, 1),
        C_OFF: (2, K_DEC, 1, 1), C_SIZE: (3, K_DEC, 1, 1)},
        _char_table({"R": R_READ, "W": R_WRITE, "T": R_TRIM, "D": R_TRIM}),
        "time_us,op(R/W/T),offset_bytes,size_bytes"),
    "msr": Format("msr", ord(","), 7, {
        C_TIME: (0, K_DEC, 1, 10), C_DEV: (2, K_DEC, 1, 1), C_OP: (3, K_CHAR, 1, 1),
        C_OFF: (4, K_DEC, 1, 1), C_SIZE: (5, K_DEC, 1, 1)},
        _char_table({"R": R_READ, "W": R_WRITE}),
        "Timestamp(FILETIME),Hostname,DiskNumber,Type,Offset,Size,ResponseTime"),
    "mqsim": Format("mqsim", 0, 5, {
        C_TIME: (0, K_DEC, 1, 1000), C_DEV: (1, K_DEC, 1, 1), C_OFF: (2, K_DEC, 512, 1),
        C_SIZE: (3, K_DEC, 512, 1), C_OP: (4, K_INTMAP, 1, 1)},
        _int_table({0: R_WRITE, 1: R_READ}),
        "arrival_time_ns device_number start_sector size_in_sectors type(0 W, 1 R)"),
    "cloudphysics": Format("cloudphysics", ord(","), 5, {
        C_TIME: (1, K_DECFRAC, 1_000_000, 1), C_OP: (2, K_HEXMAP, 1, 1),
        C_SIZE: (3, K_DEC, 1, 1), C_OFF: (4, K_DEC, 512, 1)},
        _int_table(_SCSI, default=R_OTHER),
        "version,time(s),op(SCSI hex),size_bytes,lbn(512 B sectors)"),
    "alibaba": Format("alibaba", ord(","), 5, {
        C_DEV: (0, K_DEC, 1, 1), C_OP: (1, K_CHAR, 1, 1), C_OFF: (2, K_DEC, 1, 1),
        C_SIZE: (3, K_DEC, 1, 1), C_TIME: (4, K_DEC, 1, 1)},
        _char_table({"R": R_READ, "W": R_WRITE}),
        "device_id,opcode(R/W),offset_bytes,length_bytes,timestamp_us"),
}

BLOCK_FORMATS = tuple(FORMATS) + ("blkparse",)
