"""Single-producer single-consumer ring of variable-length records in shared
memory, in the style of the BPF ring buffer (``kernel/bpf/ringbuf.c``).

The ring is ``size`` bytes of data (a power of two) and two free-running
64-bit byte positions kept outside it, each written by one side only: the
producer position and the consumer position.  ``prod - cons`` is the number
of bytes in use; a position's offset in the data area is ``pos & (size - 1)``.

A record is an 8-byte header (one little-endian u64: the payload length in
the low 32 bits, the record kind in the high 32 bits) followed by the
payload, padded to a multiple of 8 bytes.  A record never straddles the end
of the data area: when it would, the producer first writes a padding record
covering the rest of the area and places the record at offset 0.  With
``size >= 2 * (MAX_FRAME + 8)`` every frame fits into an empty ring wherever
the positions stand (the larger of the two pieces is at least half the ring).

The producer never waits: a record that does not fit is dropped, counted in
a drop counter that the consumer can read, and ``push`` returns False.

Publication order (see the memory-ordering argument in :mod:`.shm`): the
producer writes payload, then record header, then the producer position;
the consumer reads the producer position, then headers and payloads, then
writes the consumer position after it has copied them.

Each side keeps its own position in private memory and only *publishes* it;
the position written by the other side is read, never trusted: a producer
that sees a consumer position outside ``[prod - size, prod]`` treats the
ring as full, and a consumer that meets a record that cannot be valid
(length over the limit, record past the producer position or past the end of
the area, unknown kind, misaligned positions) skips everything up to the
producer position and counts it as ``corrupt``.  Offsets are always computed
from the side's own position and masked, so nothing the other side writes
can make a side touch memory outside the ring.
"""

from __future__ import annotations

REC_FRAME = 0  # record kinds (high 32 bits of the record header)
REC_PAD = 1
_PAD = REC_PAD << 32
_LOW32 = 0xFFFFFFFF
REC_HDR = 8  # bytes of record header


def record_bytes(n: int) -> int:
    """Bytes a payload of ``n`` bytes takes in the ring (header and padding included)."""
    return (n + REC_HDR + 7) & ~7


class _Ring:
    """The geometry shared by both ends: ``q`` is the region as native u64
    items, ``buf`` as bytes; ``base`` is the byte offset of the data area;
    ``prod_i``/``cons_i`` are the u64 indices of the two positions."""

    __slots__ = ("q", "buf", "base", "size", "mask", "prod_i", "cons_i", "drops_i")

    def __init__(self, q, buf, base: int, size: int, prod_i: int, cons_i: int, drops_i: int) -> None:
        if size <= 0 or size & (size - 1) or base & 7:
            raise ValueError("ring size must be a power of two and its base 8-byte aligned")
        self.q = q
        self.buf = buf
        self.base = base
        self.size = size
        self.mask = size - 1
        self.prod_i = prod_i
        self.cons_i = cons_i
        self.drops_i = drops_i


class RingProducer(_Ring):
    """The writing end.  ``prod`` is the producer's own position (published
    after every record); ``max_len`` the largest payload accepted (a larger
    one is the caller's error: ValueError)."""

    __slots__ = ("prod", "drops", "max_len", "bad_cons")

    def __init__(self, q, buf, base, size, prod_i, cons_i, drops_i, max_len: int, prod: int = 0) -> None:
        super().__init__(q, buf, base, size, prod_i, cons_i, drops_i)
        if record_bytes(max_len) * 2 > size:
            raise ValueError(f"a ring of {size} bytes cannot guarantee room for {max_len}-byte records")
        self.max_len = max_len
        self.prod = prod
        self.drops = q[drops_i]
        self.bad_cons = 0  # pushes refused because the consumer position was out of range

    def push(self, frame) -> bool:
        """Append one record, or drop it (counted) when it does not fit.  Never waits."""
        n = len(frame)
        if n > self.max_len:
            raise ValueError(f"frame of {n} bytes exceeds the ring's limit of {self.max_len}")
        total = (n + 15) & ~7
        prod = self.prod
        off = prod & self.mask
        room = self.size - off
        pad = room if total > room else 0
        used = prod - self.q[self.cons_i]  # the only read of the other side's field
        if used < 0 or used > self.size:
            self.bad_cons += 1
            used = self.size
        if used + pad + total > self.size:
            self.drops += 1
            self.q[self.drops_i] = self.drops
            return False
        base = self.base
        if pad:
            self.q[(base + off) >> 3] = _PAD | (pad - REC_HDR)
            prod += pad
            off = 0
        start = base + off
        self.buf[start + REC_HDR:start + REC_HDR + n] = frame
        self.q[start >> 3] = n  # header after payload ...
        self.prod = prod + total
        self.q[self.prod_i] = self.prod  # ... and the position last: the publication
        return True

    def free(self) -> int:
        """Bytes free now (as far as the consumer position says)."""
        used = self.prod - self.q[self.cons_i]
        return self.size - used if 0 <= used <= self.size else 0


class RingConsumer(_Ring):
    """The reading end.  ``cons`` is the consumer's own position."""

    __slots__ = ("cons", "max_len", "corrupt")

    def __init__(self, q, buf, base, size, prod_i, cons_i, drops_i, max_len: int, cons: int = 0) -> None:
        super().__init__(q, buf, base, size, prod_i, cons_i, drops_i)
        self.max_len = max_len
        self.cons = cons
        self.corrupt = 0

    def ready(self) -> bool:
        """Whether the producer has published anything not read yet."""
        return self.q[self.prod_i] != self.cons

    @property
    def drops(self) -> int:
        """Records the producer dropped because the ring was full (its counter)."""
        return self.q[self.drops_i]

    def skip_to(self, pos: int) -> None:
        """Forget everything before ``pos`` (forward only, 8-byte aligned)."""
        if pos > self.cons and not pos & 7:
            self.cons = pos
            self.q[self.cons_i] = pos

    def pop(self, max_frames: int) -> list[bytes]:
        """Copy out up to ``max_frames`` records and free their space.  Bounded
        work: at most ``max_frames`` records and one padding record per lap."""
        q = self.q
        prod = q[self.prod_i]
        cons = self.cons
        if prod == cons or max_frames <= 0:
            return []
        out: list[bytes] = []
        avail = prod - cons
        if avail < 0 or avail > self.size or avail & 7:
            return self._resync(out, prod)
        base, size, mask, buf = self.base, self.size, self.mask, self.buf
        while cons != prod and len(out) < max_frames:
            off = cons & mask
            h = q[(base + off) >> 3]
            n = h & _LOW32
            kind = h >> 32
            if kind == REC_PAD:
                step = size - off
                if n != step - REC_HDR or step > prod - cons:
                    return self._resync(out, prod)
                cons += step
                continue
            total = (n + 15) & ~7
            if kind != REC_FRAME or n > self.max_len or off + total > size or total > prod - cons:
                return self._resync(out, prod)
            start = base + off + REC_HDR
            out.append(bytes(buf[start:start + n]))
            cons += total
        self.cons = cons
        q[self.cons_i] = cons  # after the copies: the space may now be reused
        return out

    def _resync(self, out: list[bytes], prod: int) -> list[bytes]:
        self.corrupt += 1
        self.cons = prod
        self.q[self.cons_i] = prod
        return out
