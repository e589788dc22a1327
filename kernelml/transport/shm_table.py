"""The recommendation table: one slot per operation kind, written by user
space under a sequence lock, read lock-free by the kernel side.

A slot is ``[seq: u64][length: u64][data: slot_bytes]``, ``stride`` bytes
apart (a multiple of the cache line).  The writer (the one attached agent)
makes ``seq`` odd, writes the data and the length, and makes ``seq`` even
again: the kernel's ``write_seqcount_begin`` / ``write_seqcount_end``.  The
reader reads ``seq``, copies length and data into its own memory, and reads
``seq`` again; the copy is good when both reads are equal and even
(``read_seqcount_begin`` / ``read_seqcount_retry``).  Unlike the kernel's
reader loop, which retries until it succeeds, this one gives up after
``attempts`` tries: the writer is user space and may be slow, stopped, dead
in the middle of a write, or hostile, and the kernel side must never spin on
it.  A slot given up on is counted (``torn``) and tried again at the next
poll; its last good content is not lost, because the reader only moves its
"seen" sequence forward on a good copy.

A summary word outside the table (its doorbell) is incremented by the
writer after every slot write; the reader scans the slots only when it
changed since the previous scan (or that scan left work behind), so an idle
poll reads one word instead of every slot's sequence.

Latest wins: a slot holds one frame; writing it again replaces it, and the
reader returns a slot's frame only when its sequence changed since the last
good read.  A length of 0 marks an empty slot.  Everything is validated
after the copy (the length against ``slot_bytes``), from the copy, never
re-read from shared memory (no double fetch).
"""

from __future__ import annotations

SLOT_HDR = 16  # seq u64, length u64


class _Table:
    __slots__ = ("q", "buf", "base", "n_slots", "stride", "slot_bytes", "summary_i")

    def __init__(self, q, buf, base: int, n_slots: int, stride: int, slot_bytes: int, summary_i: int) -> None:
        if base & 7 or stride & 7 or stride < SLOT_HDR + slot_bytes:
            raise ValueError("table base and stride must be 8-byte aligned and a slot must fit its data")
        self.q = q
        self.buf = buf
        self.base = base
        self.n_slots = n_slots
        self.stride = stride
        self.slot_bytes = slot_bytes
        self.summary_i = summary_i  # u64 index of the summary word

    def seq(self, slot: int) -> int:
        return self.q[(self.base + slot * self.stride) >> 3]


class TableWriter(_Table):
    """The user-space end (one writer at a time: the attached agent)."""

    __slots__ = ("_seq", "_summary", "writes")

    def __init__(self, q, buf, base, n_slots, stride, slot_bytes, summary_i) -> None:
        super().__init__(q, buf, base, n_slots, stride, slot_bytes, summary_i)
        self._seq = [0] * n_slots
        self._summary = q[summary_i]
        self.writes = 0

    def clear(self) -> None:
        """Empty every slot (at attach: a previous agent's leftovers, including
        a write it died in the middle of, are not delivered)."""
        for i in range(self.n_slots):
            s = self.seq(i)
            self._seq[i] = s + 1 if s & 1 else s  # a dead writer left it odd
            self.write(i, b"")

    def write(self, slot: int, frame) -> None:
        n = len(frame)
        if n > self.slot_bytes:
            raise ValueError(f"frame of {n} bytes exceeds the slot size of {self.slot_bytes} bytes")
        so = self.base + slot * self.stride
        i = so >> 3
        s = self._seq[slot]
        q = self.q
        q[i] = s + 1  # odd: a write is in progress
        self.buf[so + SLOT_HDR:so + SLOT_HDR + n] = frame
        q[i + 1] = n
        q[i] = s + 2  # even: published
        self._seq[slot] = s + 2
        self._summary += 1
        q[self.summary_i] = self._summary  # after the slot: a reader that saw the old value rescans
        self.writes += 1


class TableReader(_Table):
    """The kernel-side end: lock-free, bounded."""

    __slots__ = ("attempts", "seen", "summary_seen", "pending", "torn", "corrupt", "_copy")

    def __init__(self, q, buf, base, n_slots, stride, slot_bytes, summary_i, attempts: int = 4) -> None:
        super().__init__(q, buf, base, n_slots, stride, slot_bytes, summary_i)
        if attempts < 1:
            raise ValueError("at least one read attempt")
        self.attempts = attempts
        self.seen = [0] * n_slots  # sequence of the last good read per slot
        self.summary_seen = q[summary_i]
        self.pending = True  # the next read scans every slot
        self.torn = 0  # slots given up on after `attempts` tries (retried next poll)
        self.corrupt = 0  # good copies with an impossible length (dropped)
        self._copy = self._copy_bytes  # replaceable, so tests can race a writer against the copy

    def mark_all_seen(self) -> None:
        """Do not deliver what the table holds now."""
        self.summary_seen = self.q[self.summary_i]
        self.seen = [self.seq(i) for i in range(self.n_slots)]
        self.pending = False

    def _copy_bytes(self, start: int, n: int) -> bytes:
        return bytes(self.buf[start:start + n])

    def read_changed(self, max_frames: int) -> list[bytes]:
        """One frame per slot whose sequence changed since its last good read,
        at most ``max_frames``; at most ``attempts`` tries per changed slot."""
        q = self.q
        summary = q[self.summary_i]  # before the slots: a write after this load is seen next time
        if summary == self.summary_seen and not self.pending:
            return []
        seen, out, pending = self.seen, [], False
        base, stride, limit = self.base, self.stride, self.slot_bytes
        for slot in range(self.n_slots):
            if len(out) >= max_frames:
                pending = True
                break
            so = base + slot * stride
            i = so >> 3
            if q[i] == seen[slot]:
                continue
            for _ in range(self.attempts):
                s1 = q[i]
                if s1 & 1:
                    continue  # a write in progress: try again, a bounded number of times
                n = q[i + 1]
                data = self._copy(so + SLOT_HDR, min(n, limit))
                if q[i] != s1:
                    continue  # overwritten during the copy: torn
                seen[slot] = s1
                if n > limit:
                    self.corrupt += 1
                elif n:
                    out.append(data)
                break
            else:
                self.torn += 1
                pending = True
        self.summary_seen, self.pending = summary, pending
        return out
